import { existsSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkqError } from '@skq/core';
import { serializeError } from '@skq/core/backend';
import { multiline } from './terminal-output.js';

let typescriptReady: Promise<void> | null = null;

/** Modules whose import has not settled yet. */
const loading = new Set<string>();
let exitNoticeInstalled = false;

/**
 * Node ends a process whose top-level await can never settle with exit code 13 and no word of
 * which module it was: say it.
 */
function explainUnsettledImports(): void {
  if (exitNoticeInstalled) return;
  exitNoticeInstalled = true;
  process.on('exit', (code) => {
    // Node 20 passes 0 to this listener and sets exitCode to 13 for an unsettled top-level await.
    if ((code !== 13 && process.exitCode !== 13) || loading.size === 0) return;
    // Synchronously: the process is exiting, and a write to a pipe would be lost.
    writeSync(2, multiline(`skunq: ${[...loading].join(', ')} never finished loading: its top-level await waits on something that can no longer happen\n`));
  });
}

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
  explainUnsettledImports();
  loading.add(path);
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (cause) {
    // A module may throw anything, null included.
    const code = cause instanceof SkqError ? cause.code : 'CONFIG_INVALID';
    throw new SkqError(code, `could not load ${path}: ${serializeError(cause).message}`, { cause, context: { field: 'file' } });
  } finally {
    loading.delete(path);
  }
}
