import { z } from 'zod';
import { SkqError, consoleLogger } from '@skq/core';
import { LoggerSchema, RetentionSchema, parseConfig, retentionFromText, splitSkqParams, timerMs } from '@skq/core/backend';

/**
 * Options of the PostgreSQL backend.
 *
 * @example
 * ```ts
 * const options = PostgresOptionsSchema.parse({ url: 'postgres://app@127.0.0.1:5432/app', schema: 'jobs', poolSize: 20 });
 * ```
 */
export const PostgresOptionsSchema = z
  .object({
    /** `postgres://user:password@host:port/database?sslmode=…`: the driver's connection string. */
    url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
    /** The PostgreSQL schema that holds skunq's tables, created at connect. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'a lowercase identifier: letters, digits and _, at most 41 characters')
      .default('skunq'),
    /** Connections in the pool (each operation holds one for its transaction). */
    poolSize: z.number().int().min(1).max(1_000).default(10),
    /**
     * A direct connection for LISTEN, when `url` goes through a pooler in transaction mode (PgBouncer),
     * which cannot hold a listener. Default: `url`. Without working notifications workers still find
     * jobs by polling (`pollIntervalMs` of the worker).
     */
    listenUrl: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL').optional(),
    /** Named prepared statements (off for a pooler that cannot keep them). */
    preparedStatements: z.boolean().default(true),
    /** Transactions of this process that run at once; steps asked for meanwhile share the next one (group commit). */
    writeConcurrency: z.number().int().min(1).max(64).default(2),
    /** The longest a process that wrote waits to vacuum the jobs table, in ms (sooner after 10,000 dead row versions); 0 leaves it to autovacuum. */
    vacuumEveryMs: z.number().int().min(0).max(3_600_000).default(5_000),
    /** How long to wait for a connection, in ms. */
    connectTimeoutMs: timerMs().default(10_000),
    /**
     * What to keep of succeeded jobs that set no `removeOnComplete` of their own. Default: the newest
     * 1,000, none older than a day, so that tables that have run a million jobs do not hold a million rows.
     */
    removeOnComplete: RetentionSchema.default({ count: 1_000, ageMs: 24 * 3_600_000 }),
    /** What to keep of failed and cancelled jobs that set no `removeOnFail`. Default: the newest 10,000, none older than 7 days. */
    removeOnFail: RetentionSchema.default({ count: 10_000, ageMs: 7 * 24 * 3_600_000 }),
    /** Where the backend says what went wrong outside a call (a lost event connection); `false` for silence. Default: the console. */
    logger: z.union([z.literal(false), LoggerSchema]).default(consoleLogger),
  })
  .strict();

/**
 * `{ url, schema?, poolSize?, … }`, or a `postgres://` URL with skunq's options as `skq…` query parameters.
 *
 * @example
 * ```ts
 * const options: PostgresOptions = { url: process.env.DATABASE_URL!, schema: 'jobs', removeOnComplete: 5_000 };
 * const backend = await PostgresBackend.connect(options);
 * ```
 */
export type PostgresOptions = z.input<typeof PostgresOptionsSchema>;
export type ParsedPostgresOptions = z.output<typeof PostgresOptionsSchema>;

const NUMERIC = new Set(['poolSize', 'connectTimeoutMs', 'writeConcurrency', 'vacuumEveryMs']);
const RETENTION = new Set(['removeOnComplete', 'removeOnFail']);

/**
 * Parses a PostgreSQL URL. skunq's own options go in the query with an `skq` prefix (`skqSchema`,
 * `skqPoolSize`, `skqRemoveOnComplete`…); every other parameter is the driver's.
 *
 * @example
 * ```ts
 * parsePostgresUrl('postgres://app@127.0.0.1:5432/app?sslmode=disable&skqSchema=jobs');
 * // → { url: 'postgres://app@127.0.0.1:5432/app?sslmode=disable', schema: 'jobs' }
 * ```
 */
export function parsePostgresUrl(url: string): PostgresOptions {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new SkqError('CONFIG_INVALID', `not a postgres URL: expected postgres://user@host:port/database`, { context: { field: 'backend' } });
  }
  const split = splitSkqParams(url, (option, value) =>
    NUMERIC.has(option) ? Number(value) : RETENTION.has(option) ? retentionFromText(value) : option === 'preparedStatements' ? value !== 'false' : value,
  );
  return { ...split.options, url: split.url } as PostgresOptions;
}

/** Parses options once. */
export function resolvePostgresOptions(input: PostgresOptions | string): ParsedPostgresOptions {
  return parseConfig(PostgresOptionsSchema, typeof input === 'string' ? parsePostgresUrl(input) : input, 'postgres options');
}
