import type pg from 'pg';
import type { JobEvent } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, RetentionSchedule, THROUGHPUT_WINDOW_MS, type JobRunOptions, type RetentionRule } from '@skq/core/backend';
import { encodeEvents } from './event-payload.js';
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
  /** Routes (`queue\0route`) whose last claim went by turns (groups or limits): the next goes so at once. */
  readonly byTurns: Set<string>;
}

/** One transaction: its connection, and what it leaves for its commit. */
export interface PgTx {
  readonly store: PgStore;
  readonly db: Queryable;
  /** Events to publish with NOTIFY, delivered by PostgreSQL only if the transaction commits. */
  readonly events: Omit<JobEvent, 'seq'>[];
  /** Queues this transaction added to the directory; known listed once it commits. */
  readonly listed: string[];
  /** Deliveries ended, by queue, route and minute: added to the throughput rows once, as the transaction closes. */
  readonly throughput: Map<string, { queue: string; route: string; minute: number; completed: number; failed: number }>;
  /** The throughput rows this transaction adds to: concurrent transactions of one process use different ones. */
  readonly stripe: number;
  /** No BEGIN: each statement commits on its own, and one that fails writes nothing and aborts nothing else. */
  readonly alone: boolean;
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
    byTurns: new Set(),
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

/** A transaction on `db` (already inside one: the caller's, or the backend's), or, `alone`, statements that each commit on their own. */
export function txOn(store: PgStore, db: Queryable, stripe = store.stripe, alone = false): PgTx {
  return { store, db, events: [], listed: [], throughput: new Map(), stripe, alone };
}

/**
 * What a transaction writes last, just before it commits, in one statement: the throughput it counted
 * (one row per queue, route and minute, in its stripe), and its events (NOTIFY, which PostgreSQL
 * delivers to listeners when it commits, in commit order). Every thousandth throughput write also
 * deletes counts past the window.
 */
export async function closeTx(t: PgTx): Promise<void> {
  const tallies = [...t.throughput.values()];
  if (tallies.length === 0 && t.events.length === 0) return;
  await run(t, 'closeTx', [
    t.stripe,
    tallies.map((c) => c.queue),
    tallies.map((c) => c.route),
    tallies.map((c) => c.minute),
    tallies.map((c) => c.completed),
    tallies.map((c) => c.failed),
    t.store.channel,
    t.events.length ? encodeEvents(t.events) : [],
  ]);
  t.throughput.clear();
  t.events.length = 0;
  if (tallies.length && ++t.store.throughputWrites % 1_000 === 0) await run(t, 'trimThroughput', [Date.now() - THROUGHPUT_WINDOW_MS]);
}

/** A job id's delivery, by index. */
export const deliveryIdOf = (jobId: string, dix: number): string => `${jobId}.${dix}`;

function shortHash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}
