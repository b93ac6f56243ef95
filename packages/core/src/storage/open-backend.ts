import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkqError } from '../errors.js';
import type { StorageBackend } from './contract.js';

/** The URL a queue uses when none is given and `SKQ_BACKEND` is unset. */
export const DEFAULT_BACKEND_URL = 'sqlite:.skunq/skunq.db';

/**
 * The backend URL when none is given: `$SKQ_BACKEND`, else {@link DEFAULT_BACKEND_URL}. A variable
 * that is set but empty or not a URL is a configuration error, not a reason to fall back.
 *
 * @example
 * ```ts
 * const url = backendUrlFromEnvironment(); // 'sqlite:.skunq/skunq.db' unless SKQ_BACKEND is set
 * ```
 */
export function backendUrlFromEnvironment(): string {
  const url = process.env.SKQ_BACKEND;
  if (url === undefined) return DEFAULT_BACKEND_URL;
  if (url.trim() === '') {
    throw new SkqError('CONFIG_INVALID', 'SKQ_BACKEND is set but empty: unset it for the SQLite default, or give a URL such as redis://127.0.0.1:6379', {
      context: { field: 'SKQ_BACKEND' },
    });
  }
  backendScheme(url);
  return url;
}

/** What a backend package exports so that URLs can open it. */
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

/** The scheme of a backend URL: `sqlite`, `redis`, `mongodb`… */
export function backendScheme(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!match?.[1]) {
    throw new SkqError('CONFIG_INVALID', `invalid backend URL "${url}": expected scheme:location, e.g. sqlite:.skunq/skunq.db or redis://127.0.0.1:6379`, {
      context: { field: 'backend' },
    });
  }
  return match[1].toLowerCase();
}

/**
 * A backend URL fit for logs and messages: its password, if any, is replaced by `***`
 * (`redis://:secret@host` → `redis://:***@host`). Works on malformed URLs too.
 *
 * @example
 * ```ts
 * redactUrl('mongodb://app:s3cret@db1:27017/jobs'); // 'mongodb://app:***@db1:27017/jobs'
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

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

/** Gives back a backend from {@link acquireBackend}; the last user closes it. */
export async function releaseBackend(url: string): Promise<void> {
  const entry = shared.get(url);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  shared.delete(url);
  await (await entry.backend).close();
}

/**
 * Opens a backend of its own for `url`, not shared with the queues and pools of this process (see
 * {@link acquireBackend}); the caller closes it. A tool that observes a store beside an application, such
 * as a checker, reads through its own connection so that one failing client does not blind it.
 *
 * @example
 * ```ts
 * const backend = await openBackend('redis://127.0.0.1:6379');
 * console.log(await backend.countByState('mail'));
 * await backend.close();
 * ```
 */
export async function openBackend(url: string): Promise<StorageBackend> {
  const scheme = backendScheme(url);
  const load = loaders.get(scheme) ?? defaultLoader(scheme);
  let mod: BackendModule;
  try {
    mod = await load();
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `backend "${scheme}" needs the package ${PACKAGES[scheme] ?? '(none)'}: install it (${(cause as Error).message})`, {
      cause,
      context: { field: 'backend' },
    });
  }
  return mod.openStorage(url);
}

function defaultLoader(scheme: string): () => Promise<BackendModule> {
  const specifier = PACKAGES[scheme];
  if (!specifier) {
    throw new SkqError('CONFIG_INVALID', `unknown backend scheme "${scheme}:"; known: ${Object.keys(PACKAGES).join(', ')}`, {
      context: { field: 'backend' },
    });
  }
  return () => importBackendPackage(specifier);
}

/**
 * Imports a backend package. Where the package manager lets core see it (npm's hoisting, a
 * workspace root), a plain import does. A strict install (pnpm) lets core see only its own
 * dependencies, and core depends on no backend: the package is then looked up from the
 * application's directory, where it was installed, and imported by its ESM entry.
 */
async function importBackendPackage(specifier: string): Promise<BackendModule> {
  try {
    // A variable specifier keeps type checkers and bundlers from requiring every backend package.
    return (await import(specifier)) as BackendModule;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const manifestPath = createRequire(join(process.cwd(), 'package.json')).resolve(`${specifier}/package.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: { '.'?: { import?: string } }; module?: string };
    const entry = manifest.exports?.['.']?.import ?? manifest.module;
    if (!entry) throw err;
    return (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as BackendModule;
  }
}

/** Whether `value` implements the storage contract's methods. */
export function isStorageBackend(value: unknown): value is StorageBackend {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['enqueue', 'claim', 'complete', 'fail', 'subscribe', 'close'].every((m) => typeof v[m] === 'function');
}
