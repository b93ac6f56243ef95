import { z } from 'zod';
import { SkqError, consoleLogger } from '@skq/core';
import { NameSchema, parseConfig, splitSkqParams, timerMs, LoggerSchema } from '@skq/core/backend';

/**
 * How idle workers and waiters learn about new events. `auto` picks the best the server offers.
 *
 * @example
 * ```ts
 * await MongoBackend.connect({ url: 'mongodb://127.0.0.1:27017/jobs', wakeups: 'poll' });
 * ```
 */
export const WakeupModeSchema = z.enum(['auto', 'change-stream', 'tailable', 'poll']);
export type WakeupMode = z.infer<typeof WakeupModeSchema>;

/**
 * Options of the MongoDB backend.
 *
 * @example
 * ```ts
 * const options = MongoOptionsSchema.parse({ url: 'mongodb://127.0.0.1:27017/jobs?replicaSet=rs0', pollIntervalMs: 250 });
 * ```
 */
export const MongoOptionsSchema = z
  .object({
    /** `mongodb://host:port[,host:port]/[database]?replicaSet=…` or `mongodb+srv://…`. */
    url: z.string().regex(/^mongodb(\+srv)?:\/\//, 'expected a mongodb:// or mongodb+srv:// URL'),
    /** The database; defaults to the URL's path, else `skunq`. */
    database: NameSchema.optional(),
    /** Every collection is named `<collectionPrefix>_<what>`. */
    collectionPrefix: NameSchema.default('skq'),
    /** Wake-up mechanism; `auto` prefers a change stream, then a tailable cursor, then polling. */
    wakeups: WakeupModeSchema.default('auto'),
    /** Size of the capped events collection when wake-ups tail it. */
    eventsCappedBytes: z.number().int().min(4096).default(64 * 1024 * 1024),
    /** Slowest poll when polling is the wake-up mechanism (it backs off from 25 ms to this). */
    pollIntervalMs: timerMs().default(500),
    /** Events older than this are trimmed (not used for a capped events collection). */
    eventRetentionMs: z.number().int().positive().default(60 * 60 * 1000),
    /** How long to wait for a reachable server, in ms. */
    connectTimeoutMs: timerMs().default(10_000),
    /** A reply that takes longer than this fails the call (BACKEND_UNAVAILABLE) instead of hanging on a half-dead connection. */
    socketTimeoutMs: timerMs().default(30_000),
    /** Where the backend says which wake-up mechanism it chose (info) and what it could not record (warn); `false` for silence. Default: the console. */
    logger: z.union([z.literal(false), LoggerSchema]).default(consoleLogger),
  })
  .strict();

/** `{ url, database?, wakeups?, … }`, or a `mongodb://` URL with skunq's options as query parameters (`?skqWakeups=poll`). */
export type MongoOptions = z.input<typeof MongoOptionsSchema>;
export type ParsedMongoOptions = z.output<typeof MongoOptionsSchema> & { database: string };

const NUMERIC = new Set(['eventsCappedBytes', 'pollIntervalMs', 'eventRetentionMs', 'connectTimeoutMs', 'socketTimeoutMs']);

/**
 * Parses a MongoDB URL. skunq's own options go in the query with an `skq` prefix
 * (`skqWakeups`, `skqCollectionPrefix`, `skqPollIntervalMs`…); every other parameter is the driver's.
 *
 * @example
 * ```ts
 * parseMongoUrl('mongodb://127.0.0.1:27017/jobs?replicaSet=rs0&skqWakeups=poll');
 * // → { url: 'mongodb://127.0.0.1:27017/jobs?replicaSet=rs0', wakeups: 'poll' }
 * ```
 */
export function parseMongoUrl(url: string): MongoOptions {
  const split = splitSkqParams(url, (option, value) => (NUMERIC.has(option) ? Number(value) : value));
  return { ...split.options, url: split.url } as MongoOptions;
}

export function resolveMongoOptions(input: MongoOptions | string): ParsedMongoOptions {
  const parsed = parseConfig(MongoOptionsSchema, typeof input === 'string' ? parseMongoUrl(input) : input, 'mongodb options');
  return { ...parsed, database: parsed.database ?? databaseOf(parsed.url) };
}

/** The database named in a MongoDB URL's path, or `skunq`. */
export function databaseOf(url: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(url);
  let name: string;
  try {
    name = decodeURIComponent(match?.[1] ?? '');
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid mongodb options: the database in the URL has a malformed %-escape`, { cause, context: { field: 'url' } });
  }
  if (name === '') return 'skunq';
  if (!/^[^/\\. "$*<>:|?]+$/.test(name)) {
    throw new SkqError('CONFIG_INVALID', `invalid mongodb options: database "${name}" in the URL is not a valid database name`, { context: { field: 'url' } });
  }
  return name;
}
