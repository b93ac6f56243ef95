import type { StorageBackend } from '@skq/core/backend';
import { PostgresBackend } from './postgres-backend.js';

export { PostgresBackend } from './postgres-backend.js';
export { PostgresOptionsSchema, parsePostgresUrl, type PostgresOptions } from './postgres-options.js';

/**
 * Opens a `postgres://` or `postgresql://` URL; this is how `new SkunkQueue(name, { backend: 'postgres://…' })` finds this package.
 *
 * @example
 * ```ts
 * const backend = await openStorage('postgres://app@127.0.0.1:5432/app?skqSchema=jobs');
 * ```
 */
export async function openStorage(url: string): Promise<StorageBackend> {
  return PostgresBackend.connect(url);
}
