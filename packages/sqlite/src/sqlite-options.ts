import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { RetentionSchema, parseConfig, retentionFromText, timerMs } from '@skq/core/backend';

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
    /** At most this many notices (progress values, pauses, commands…) are kept, whatever their age. */
    eventRetentionCount: z.number().int().positive().default(100_000),
    /**
     * What to keep of succeeded jobs that set no `removeOnComplete` of their own. Default: the newest
     * 1,000, none older than a day, so a file that has run a million jobs does not hold a million rows;
     * `false` keeps all.
     */
    removeOnComplete: RetentionSchema.default({ count: 1_000, ageMs: 24 * 3_600_000 }),
    /** What to keep of failed and cancelled jobs that set no `removeOnFail`. Default: the newest 10,000, none older than 7 days. */
    removeOnFail: RetentionSchema.default({ count: 10_000, ageMs: 7 * 24 * 3_600_000 }),
  })
  .strict();

/** `{ path, busyTimeoutMs?, pollIntervalMs?, eventRetentionMs?, eventRetentionCount?, removeOnComplete?, removeOnFail? }`, or a `sqlite:` URL. */
export type SqliteOptions = z.input<typeof SqliteOptionsSchema>;

/**
 * Parses `sqlite:relative/path.db`, `sqlite:///absolute/path.db` or `sqlite::memory:`, with
 * options as query parameters (`?busyTimeoutMs=5000&removeOnComplete=false`).
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
  for (const [key, value] of params) {
    options[key] = key === 'removeOnComplete' || key === 'removeOnFail' ? retentionFromText(value) : /^\d+$/.test(value) ? Number(value) : value;
  }
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
