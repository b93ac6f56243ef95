import type pg from 'pg';
import type { JobEvent } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, RetentionSchedule, type JobRunOptions, type RetentionRule } from '@skq/core/backend';
import { encodeEvents } from './event-payload.js';
import { mapPostgresError } from './postgres-errors.js';
import { SQL, quoteIdentifier, type StatementName } from './sql-text.js';

/**
 * A connection that runs statements: a pooled client inside the backend's own transaction, or the
 * caller's client inside theirs (transactional enqueue). node-postgres clients are such; so is
 * anything with the same `query({ text, values })`.
 */
export interface Queryable {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/**
 * What every operation runs against: the pool, the statements with this backend's schema, and the
 * little state kept between transactions. An operation takes a {@link PgTx} and never begins or
 * commits a transaction itself.
 */
export interface PgStore {
  readonly pool: pg.Pool;
  /** The PostgreSQL schema holding the tables. */
  readonly schema: string;
  /** The NOTIFY channel of this schema's events. */
  readonly channel: string;
  /** Each statement's SQL with the schema in place, and the name it is prepared under on a connection. */
  readonly statements: Record<StatementName, { name: string | undefined; text: string }>;
  /** When each queue's retention rules next trim; kept per process. */
  readonly retention: RetentionSchedule;
  /** The retention of jobs that set none of their own (the backend's `removeOnComplete` and `removeOnFail`). */
  readonly defaultRetention: { removeOnComplete: RetentionRule | null; removeOnFail: RetentionRule | null };
  /** The run options of a job stored with the defaults (options NULL), with the default retention. */
  readonly defaultRunOptions: JobRunOptions;
  /** This process's throughput rows: one of `THROUGHPUT_STRIPES`, picked at random when it opened. */
  readonly stripe: number;
  /** Queues this process has seen in the directory, so each costs one INSERT per process. */
  readonly listedQueues: Set<string>;
  /** Throughput counts written by this process: every thousandth also deletes counts past the window. */
  throughputWrites: number;
}

/** One transaction: its connection, and what it leaves for its commit. */
export interface PgTx {
  readonly store: PgStore;
  readonly db: Queryable;
  /** Events to publish with NOTIFY, delivered by PostgreSQL only if the transaction commits. */
  readonly events: Omit<JobEvent, 'seq'>[];
  /** Queues this transaction added to the directory; known listed once it commits. */
  readonly listed: string[];
}

/** The statements of `schema`, prepared per connection under names that carry the schema when `prepare` is set. */
export function schemaStatements(schema: string, prepare: boolean): PgStore['statements'] {
  const quoted = quoteIdentifier(schema);
  // Prepared statement names are per connection and at most 63 bytes: the schema goes in as a short hash.
  const tag = shortHash(schema);
  return Object.fromEntries(
    Object.entries(SQL).map(([key, text]) => [key, { name: prepare ? `skq_${tag}_${key}` : undefined, text: text.replaceAll('{s}', quoted) }]),
  ) as PgStore['statements'];
}

export function newStore(pool: pg.Pool, schema: string, prepare: boolean, defaultRetention: PgStore['defaultRetention'], stripes: number): PgStore {
  return {
    pool,
    schema,
    channel: `skq_${schema}`.slice(0, 63),
    statements: schemaStatements(schema, prepare),
    retention: new RetentionSchedule(),
    defaultRetention,
    defaultRunOptions: withDefaultRetention(DEFAULT_RUN_OPTIONS, defaultRetention),
    stripe: Math.floor(Math.random() * stripes),
    listedQueues: new Set(),
    throughputWrites: 0,
  };
}

/** `options` with the default retention for what it sets none of. */
export function withDefaultRetention(options: JobRunOptions, defaults: PgStore['defaultRetention']): JobRunOptions {
  if (options.removeOnComplete && options.removeOnFail) return options;
  return { ...options, removeOnComplete: options.removeOnComplete ?? defaults.removeOnComplete, removeOnFail: options.removeOnFail ?? defaults.removeOnFail };
}

/** Runs one statement of the backend in `t`; rows come back as objects. */
export async function run<Row = Record<string, unknown>>(t: PgTx, statement: StatementName, values: unknown[]): Promise<{ rows: Row[]; rowCount: number }> {
  const { name, text } = t.store.statements[statement];
  const result = await t.db.query(name === undefined ? { text, values } : { name, text, values });
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
}

/** A transaction on `db` (already inside one: the caller's, or the backend's). */
export function txOn(store: PgStore, db: Queryable): PgTx {
  return { store, db, events: [], listed: [] };
}

/** Deadlocks and serialization failures: the transaction did nothing and runs again, at most this often. */
const RETRIES = 3;
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `body` in a transaction of its own on a pooled connection: BEGIN, the body, the events
 * published (NOTIFY, delivered at commit), COMMIT. A deadlock or serialization failure runs it again;
 * anything else rolls back and is mapped to a {@link SkqError} once, here.
 */
export async function transaction<T>(store: PgStore, operation: string, body: (t: PgTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    let client: pg.PoolClient;
    try {
      client = await store.pool.connect();
    } catch (err) {
      throw mapPostgresError(err, operation);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const t = txOn(store, client);
      const value = await body(t);
      await publish(t);
      await client.query('COMMIT');
      for (const queue of t.listed) store.listedQueues.add(queue);
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
      const code = (err as { code?: unknown }).code;
      if (attempt < RETRIES && typeof code === 'string' && RETRYABLE.has(code) && !broken) continue;
      throw mapPostgresError(err, operation);
    } finally {
      client.release(broken);
    }
  }
}

/** Publishes the events `t` gathered, in it: PostgreSQL delivers them to listeners when it commits, in commit order. */
export async function publish(t: PgTx): Promise<void> {
  if (t.events.length === 0) return;
  await run(t, 'publish', [t.store.channel, encodeEvents(t.events)]);
  t.events.length = 0;
}

/** A job id's delivery, by index. */
export const deliveryIdOf = (jobId: string, dix: number): string => `${jobId}.${dix}`;

function shortHash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}
