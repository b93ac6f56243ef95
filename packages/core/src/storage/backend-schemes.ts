import { SkqError } from '../errors.js';
import { importBackendPackage } from './backend-package.js';
import type { StorageBackend } from './storage-backend.js';

/**
 * What a backend package exports so that URLs can open it.
 *
 * @example
 * ```ts
 * // The entry module of a backend package, say @acme/skq-memory, has this shape:
 * export async function openStorage(url: string): Promise<StorageBackend> { return new MemoryBackend(url); }
 * // and an application serves memory: URLs with registerBackend('memory', () => import('@acme/skq-memory'));
 * ```
 */
export interface BackendModule {
  openStorage(url: string): Promise<StorageBackend>;
}

/** Which package serves which URL scheme. */
const PACKAGES: Record<string, string> = {
  sqlite: '@skq/sqlite',
  redis: '@skq/redis',
  rediss: '@skq/redis',
  mongodb: '@skq/mongodb',
  'mongodb+srv': '@skq/mongodb',
  fdb: '@skq/foundationdb',
  postgres: '@skq/postgres',
  postgresql: '@skq/postgres',
};

const loaders = new Map<string, () => Promise<BackendModule>>();

/**
 * Serves a URL scheme from a module of your own (a custom backend, or a bundler that cannot
 * resolve the `@skq/*` packages dynamically).
 *
 * @example
 * ```ts
 * registerBackend('memory', async () => ({ openStorage: async () => new MyBackend() }));
 * ```
 */
export function registerBackend(scheme: string, load: () => Promise<BackendModule>): void {
  loaders.set(scheme, load);
}

/**
 * The scheme of a backend URL: `sqlite`, `redis`, `mongodb`…
 *
 * @example
 * ```ts
 * backendScheme('redis://127.0.0.1:6379'); // 'redis'
 * ```
 */
export function backendScheme(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!match?.[1]) {
    throw new SkqError('CONFIG_INVALID', `invalid backend URL "${url}": expected scheme:location, e.g. sqlite:.skunq/skunq.db or redis://127.0.0.1:6379`, {
      context: { field: 'backend' },
    });
  }
  return match[1].toLowerCase();
}

/** The package that serves a scheme, for messages; null for a scheme only {@link registerBackend} serves. */
export function schemePackage(scheme: string): string | null {
  return PACKAGES[scheme] ?? null;
}

/** What loads a scheme's backend module: the registered loader, else the scheme's package. */
export function schemeLoader(scheme: string): () => Promise<BackendModule> {
  const registered = loaders.get(scheme);
  if (registered) return registered;
  const specifier = PACKAGES[scheme];
  if (!specifier) {
    throw new SkqError('CONFIG_INVALID', `unknown backend scheme "${scheme}:"; known: ${Object.keys(PACKAGES).join(', ')}`, {
      context: { field: 'backend' },
    });
  }
  return () => importBackendPackage<BackendModule>(specifier);
}
