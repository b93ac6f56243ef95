import type { StorageBackend } from './storage-backend.js';
import { openBackend } from './open-backend.js';

interface Shared {
  backend: Promise<StorageBackend>;
  users: number;
}
const shared = new Map<string, Shared>();

/**
 * Opens the backend a URL names, shared by everything in this process that opens the same URL
 * until each has called {@link releaseBackend}.
 *
 * @example
 * ```ts
 * const backend = await acquireBackend('sqlite:/var/lib/app/jobs.db');
 * // …
 * await releaseBackend('sqlite:/var/lib/app/jobs.db');
 * ```
 */
export async function acquireBackend(url: string): Promise<StorageBackend> {
  let entry = shared.get(url);
  if (!entry) {
    entry = { backend: openBackend(url), users: 0 };
    shared.set(url, entry);
    entry.backend.catch(() => shared.delete(url));
  }
  entry.users += 1;
  return entry.backend;
}

/**
 * Gives back a backend from {@link acquireBackend}; the last user closes it.
 *
 * @example
 * ```ts
 * await releaseBackend('sqlite:/var/lib/app/jobs.db');
 * ```
 */
export async function releaseBackend(url: string): Promise<void> {
  const entry = shared.get(url);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  shared.delete(url);
  await (await entry.backend).close();
}
