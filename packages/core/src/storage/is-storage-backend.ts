import type { StorageBackend } from './storage-backend.js';

/**
 * Whether `value` implements the storage contract's methods: how options that take a URL or an open
 * backend tell the two apart.
 *
 * @example
 * ```ts
 * const backend = isStorageBackend(option) ? option : await openBackend(option);
 * ```
 */
export function isStorageBackend(value: unknown): value is StorageBackend {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['enqueue', 'claim', 'complete', 'fail', 'subscribe', 'close'].every((m) => typeof v[m] === 'function');
}
