import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Imports a backend package, such as `@skq/mongodb`. Where the package manager lets core see it (npm's
 * hoisting, a workspace root), a plain import does. A strict install (pnpm) lets core see only its own
 * dependencies, and core depends on no backend: the package is then looked up from the application's
 * directory, where it was installed, and imported by its ESM entry. URLs open their backends this
 * way; a tool that needs more of a backend package than `openStorage` (the CLI's trigger runners)
 * loads it the same way, so both get the one copy the application installed.
 *
 * @example
 * ```ts
 * const { TriggerRunner } = await importBackendPackage<typeof import('@skq/mongodb')>('@skq/mongodb');
 * ```
 */
export async function importBackendPackage<T = unknown>(specifier: string): Promise<T> {
  try {
    // A variable specifier keeps type checkers and bundlers from requiring every backend package.
    return (await import(specifier)) as T;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const manifestPath = createRequire(join(process.cwd(), 'package.json')).resolve(`${specifier}/package.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: { '.'?: { import?: string } }; module?: string };
    const entry = manifest.exports?.['.']?.import ?? manifest.module;
    if (!entry) throw err;
    return (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as T;
  }
}
