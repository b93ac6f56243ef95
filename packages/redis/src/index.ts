import type { StorageBackend } from '@skq/core/backend';
import { RedisBackend } from './redis-backend.js';

export { RedisBackend } from './redis-backend.js';
export { RedisOptionsSchema, parseRedisUrl, type RedisOptions } from './redis-options.js';

/**
 * Opens a `redis://` or `rediss://` URL; this is how `new SkunkQueue(name, { backend: 'redis://…' })` finds this package.
 *
 * @example
 * ```ts
 * const backend = await openStorage('redis://127.0.0.1:6379?removeOnComplete=1000');
 * ```
 */
export async function openStorage(url: string): Promise<StorageBackend> {
  return RedisBackend.connect(url);
}
