import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkqError } from '@skq/core';

let typescriptReady: Promise<void> | null = null;

/**
 * Imports a job or config module. TypeScript files go through tsx's loader, registered once,
 * so that they share this process's `@skq/*` module instances (and thus its job registry).
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) throw new SkqError('CONFIG_INVALID', `module not found: ${path}`, { context: { field: 'file' } });
  if (['.ts', '.mts', '.cts', '.tsx'].includes(extname(path))) {
    // Under `node --import tsx` TypeScript already loads; registering twice would transform twice.
    const hasLoader = process.execArgv.some((arg) => arg.includes('tsx'));
    typescriptReady ??= hasLoader ? Promise.resolve() : import('tsx/esm/api').then(({ register }) => void register());
    await typescriptReady;
  }
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `could not load ${path}: ${(cause as Error).message}`, { cause, context: { field: 'file' } });
  }
}
