import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { parseConfig, timerMs } from '@skq/core/backend';

/** Options of the SQLite backend. */
export const SqliteOptionsSchema = z
  .object({
    /** The database file, or `:memory:` (one process only). */
    path: z.string().min(1),
    /** How long a writer waits for another process's write lock, in ms. */
    busyTimeoutMs: z.number().int().nonnegative().default(10_000),
    /** How often subscribers look for events when no file-change notice arrives, in ms. */
    pollIntervalMs: timerMs().default(200),
    /** How long lifecycle events are kept for subscribers, in ms. */
    eventRetentionMs: z.number().int().positive().default(10 * 60_000),
    /** At most this many lifecycle events are kept, whatever their age: a busy queue's events stay a few MB. */
    eventRetentionCount: z.number().int().positive().default(100_000),
  })
  .strict();

/** `{ path, busyTimeoutMs?, pollIntervalMs?, eventRetentionMs?, eventRetentionCount? }`, or a `sqlite:` URL. */
export type SqliteOptions = z.input<typeof SqliteOptionsSchema>;

/**
 * Parses `sqlite:relative/path.db`, `sqlite:///absolute/path.db` or `sqlite::memory:`, with
 * options as query parameters (`?busyTimeoutMs=5000`).
 *
 * @example
 * ```ts
 * parseSqliteUrl('sqlite:.skunq/skunq.db?pollIntervalMs=100');
 * ```
 */
export function parseSqliteUrl(url: string): SqliteOptions {
  if (!url.startsWith('sqlite:')) {
    throw new SkqError('CONFIG_INVALID', `not a sqlite URL: "${url}"`, { context: { field: 'backend' } });
  }
  let rest = url.slice('sqlite:'.length);
  const query = rest.indexOf('?');
  const params = new URLSearchParams(query >= 0 ? rest.slice(query + 1) : '');
  if (query >= 0) rest = rest.slice(0, query);
  if (rest.startsWith('//')) rest = rest.slice(2);
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid sqlite URL "${url}": the path has a malformed %-escape (write % as %25)`, { cause, context: { field: 'backend' } });
  }
  const options: Record<string, unknown> = { path };
  for (const [key, value] of params) options[key] = /^\d+$/.test(value) ? Number(value) : value;
  return options as SqliteOptions;
}

/** Parses options once, creating the database's folder. */
export function resolveSqliteOptions(input: SqliteOptions | string): z.output<typeof SqliteOptionsSchema> {
  const options = parseConfig(SqliteOptionsSchema, typeof input === 'string' ? parseSqliteUrl(input) : input, 'sqlite options');
  if (options.path !== ':memory:') {
    options.path = resolve(options.path);
    mkdirSync(dirname(options.path), { recursive: true });
  }
  return options;
}
