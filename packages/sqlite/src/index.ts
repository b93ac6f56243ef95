import type { StorageBackend } from '@skq/core/backend';
import { SqliteBackend } from './sqlite-backend.js';

export { SqliteBackend } from './sqlite-backend.js';
export { SqliteOptionsSchema, parseSqliteUrl, type SqliteOptions } from './sqlite-options.js';

/**
 * Opens a `sqlite:` URL; this is how `new SkunkQueue(name, { backend: 'sqlite:…' })` finds this package.
 *
 * @example
 * ```ts
 * const backend = await openStorage('sqlite:.skunq/skunq.db');
 * ```
 */
export async function openStorage(url: string): Promise<StorageBackend> {
  return new SqliteBackend(url);
}
