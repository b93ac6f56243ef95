import type { StorageBackend } from '@skq/core/backend';
import { FdbBackend } from './fdb-backend.js';

export { FdbBackend } from './fdb-backend.js';
export { FdbOptionsSchema, parseFdbUrl, type FdbOptions } from './fdb-options.js';
export type { KvDatabase, KvTransaction, KvReads, KvWatch, KeySelector, RangeOptions, TransactionOptions } from './kv/port.js';

/**
 * Opens an `fdb:` URL; this is how `new SkunkQueue(name, { backend: 'fdb:' })` and `skunq work -b fdb:…` find this package.
 *
 * @example
 * ```ts
 * const backend = await openStorage('fdb:/etc/foundationdb/fdb.cluster?prefix=jobs');
 * ```
 */
export async function openStorage(url: string): Promise<StorageBackend> {
  return FdbBackend.connect(url);
}
