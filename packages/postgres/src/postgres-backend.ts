import pg from 'pg';
import { SkqError, type GroupLimits, type GroupPage, type JobEvent, type JobRecord, type Logger, type LogLine, type RouteLimits, type ScheduleRecord, type StateCounts, type WorkerInfo } from '@skq/core';
import {
  EventInterest,
  JOB_EVENT_TYPES,
  retentionRule,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimResult,
  type EnqueueOptions,
  type EnqueueResult,
  type FailRequest,
  type GroupListQuery,
  type JobEventListener,
  type LeaseToken,
  type NewJob,
  type ScheduleDefinition,
  type ScheduleFiring,
  type StateListPage,
  type StateListQuery,
  type StorageBackend,
  type StorageCapabilities,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core/backend';
import { EventChannel } from './event-channel.js';
import { claim, failUnreadable } from './operations/claim.js';
import { hearEvents } from './operations/event-listeners.js';
import { getGroupLimits, getRouteLimits, listGroups, setGroupLimits, setRouteLimits } from './operations/groups.js';
import { enqueue, enqueueAlone, isOneStatement, uniformBatch } from './operations/enqueue.js';
import { cancel, removeJobs, reschedule, retryJob } from './operations/job-control.js';
import { throughput } from './operations/job-endings.js';
import { extendLease, fail, setProgress } from './operations/lease-holder-writes.js';
import { countByState, getJob, listJobsInState, listQueues } from './operations/listing.js';
import { appendCallRecord, appendLogs, getLogs, listCallRecords } from './operations/logs-and-call-records.js';
import { pausedRoutes, setPaused } from './operations/pause.js';
import { recoverExpired } from './operations/recovery.js';
import { advanceSchedule, fireSchedule, listSchedules, removeSchedule, saveSchedule, setSchedulePaused } from './operations/schedules.js';
import { heartbeat, liveWorkers, registerWorker, sendWorkerCommand, unregisterWorker } from './operations/workers-and-commands.js';
import { mapPostgresError } from './postgres-errors.js';
import { resolvePostgresOptions, type ParsedPostgresOptions, type PostgresOptions } from './postgres-options.js';
import { THROUGHPUT_STRIPES } from './schema.js';
import { prepareSchema } from './schema-migration.js';
import { GroupCommit, autocommit } from './group-commit.js';
import { closeTx, newStore, txOn, type PgStore, type PgTx, type Queryable } from './store.js';
import { TableUpkeep } from './table-upkeep.js';

/** bigint columns (epoch milliseconds, row keys) read as numbers: every one of them fits a double. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format ?? 'text'))) as typeof pg.types.getTypeParser,
};

/**
 * The PostgreSQL backend: skunq's tables in a schema of their own, created and migrated at connect.
 * Each operation is one transaction on a pooled connection; claims take due rows with
 * `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for each other nor take the same job;
 * events go out with NOTIFY as a transaction commits, and wake idle workers through one LISTEN
 * connection per backend. Jobs can be enqueued inside the application's own transaction
 * (`{ tx: client }` on `fire`, `push` and `pushMany`): they exist if and only if it commits.
 *
 * @example
 * ```ts
 * const backend = await PostgresBackend.connect('postgres://app@127.0.0.1:5432/app');
 * const queue = new SkunkQueue('mail', { backend });
 * ```
 */
export class PostgresBackend implements StorageBackend {
  readonly kind = 'postgres';
  readonly capabilities: StorageCapabilities = {
    crossProcess: true,
    pushEvents: true,
    batchClaim: true,
    durable: true,
    listing: 'by-state',
    transactionalEnqueue: true,
    groups: true,
    // Claims of 100, as pg-boss fetches: each claim and each group of completions is a durable commit.
    // At concurrency 1 / 10 / 100, 200 ran 29 % / 28 % / 14 % faster than 64 / 64 / 32 (bench:postgres).
    prefetchMax: 200,
  };
  private closed = false;

  private readonly commits: GroupCommit;
  /** Which event types this process's subscriptions hear, said in the `listeners` table: the busy statements publish only those. */
  private readonly interest = new EventInterest((queue, types, forMs) => autocommit(this.store, 'subscribe', (t) => hearEvents(t, queue, types, forMs)));

  private constructor(
    private readonly store: PgStore,
    private readonly events: EventChannel,
    private readonly upkeep: TableUpkeep,
    writeConcurrency: number,
    private readonly warnOf: (message: string, err: unknown) => void,
  ) {
    this.commits = new GroupCommit(store, writeConcurrency, warnOf);
  }

  /**
   * Connects to `options` (a `postgres://` URL or options), creating or migrating the schema.
   *
   * @example
   * ```ts
   * const backend = await PostgresBackend.connect({ url: 'postgres://app@db:5432/app', schema: 'jobs', poolSize: 20 });
   * ```
   */
  static async connect(options: PostgresOptions | string): Promise<PostgresBackend> {
    const opts = resolvePostgresOptions(options);
    const logger = opts.logger;
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: opts.connectTimeoutMs, types: TYPES, application_name: 'skunq', keepAlive: true });
    // An idle connection that the server dropped reports here; the pool replaces it on the next call.
    pool.on('error', () => undefined);
    try {
      await prepareSchema(pool, opts.schema);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const store = newStore(pool, opts.schema, opts.preparedStatements, { removeOnComplete: retentionRule(opts.removeOnComplete), removeOnFail: retentionRule(opts.removeOnFail) }, THROUGHPUT_STRIPES);
    const warnOf = (message: string, err: unknown) => warn(logger, opts, message, err);
    const events = new EventChannel(
      () => new pg.Client({ connectionString: opts.listenUrl ?? opts.url, connectionTimeoutMillis: opts.connectTimeoutMs, application_name: 'skunq listener', keepAlive: true }),
      store.channel,
      warnOf,
    );
    const upkeep = new TableUpkeep(pool, opts.schema, opts.vacuumEveryMs, warnOf);
    return new PostgresBackend(store, events, upkeep, opts.writeConcurrency, warnOf);
  }

  /**
   * Stores jobs in one transaction of the backend, or, with `options.transaction` (a node-postgres
   * client inside BEGIN, or anything with its `query({ text, values })`), inside the caller's: a batch
   * under a savepoint, so that a refused batch leaves the caller's transaction as it was (one job of one
   * route is one statement, which writes nothing when it refuses). Workers hear of the jobs when, and
   * only if, the caller commits.
   */
  async enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<EnqueueResult[]> {
    this.assertOpen('enqueue');
    if (options?.transaction === undefined) {
      const uniform = isOneStatement(jobs) ? null : uniformBatch(jobs);
      const results = await this.write('enqueue', (t) => enqueueAlone(t, jobs, uniform), { oneStatement: isOneStatement(jobs) || uniform !== null });
      // null: the batch held a stored id and wrote nothing; in a transaction, stored ids are answered as they are.
      return results ?? this.write('enqueue', (t) => enqueue(t, jobs, uniform));
    }
    const db = asQueryable(options.transaction);
    const t = txOn(this.store, db);
    // One job of one route is one statement, which writes nothing when it refuses: no savepoint needed.
    if (isOneStatement(jobs)) {
      try {
        return await enqueue(t, jobs);
      } catch (err) {
        throw mapPostgresError(err, 'enqueue');
      }
    }
    // A name of its own per call: two enqueues on one client at once never roll back each other's work.
    const savepoint = `skq_enqueue_${(savepoints += 1)}`;
    try {
      await db.query({ text: `SAVEPOINT ${savepoint}` });
      const results = await enqueue(t, jobs);
      await closeTx(t);
      await db.query({ text: `RELEASE SAVEPOINT ${savepoint}` });
      return results;
    } catch (err) {
      await db.query({ text: `ROLLBACK TO SAVEPOINT ${savepoint}` }).catch(() => undefined);
      throw mapPostgresError(err, 'enqueue');
    }
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    this.assertOpen('claim');
    // A claim is one statement, its own transaction: it waits for no group (see group-commit.ts).
    const { unreadable, ...claimed } = await autocommit(this.store, 'claim', (t) => claim(t, request));
    this.upkeep.wrote(claimed.deliveries.length + unreadable.length);
    if (unreadable.length > 0) {
      // The readable deliveries are this worker's now: a failure here leaves the others to their leases' recovery.
      await this.write('claim', (t) => failUnreadable(t, request, unreadable)).catch((err: unknown) =>
        this.warnOf(`could not fail ${unreadable.length} claimed jobs whose stored job cannot be read (recovery will take them back)`, err),
      );
    }
    return claimed;
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    this.assertOpen('complete');
    await this.commits.complete({ queue, lease, result });
    this.upkeep.wrote();
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return this.write('fail', (t) => fail(t, queue, lease, request));
  }

  async extendLease(_queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.write('extendLease', (t) => extendLease(t, leases, leaseMs), { oneStatement: true });
  }

  async recoverExpired(queue: string, now: number = Date.now()): Promise<number> {
    return this.write('recoverExpired', (t) => recoverExpired(t, queue, now));
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.write('cancel', (t) => cancel(t, queue, jobId));
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.write('reschedule', (t) => reschedule(t, queue, jobId, runAt));
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.read('getJob', (t) => getJob(t, queue, jobId));
  }

  async listJobsInState(query: StateListQuery): Promise<StateListPage> {
    return this.read('listJobsInState', (t) => listJobsInState(t, query));
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return this.write('retryJob', (t) => retryJob(t, queue, jobId, request));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return this.write('removeJobs', (t) => removeJobs(t, queue, jobIds));
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.write('setProgress', (t) => setProgress(t, queue, lease, progress));
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.write('setPaused', (t) => setPaused(t, queue, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.read('pausedRoutes', (t) => pausedRoutes(t, queue));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.read('throughput', (t) => throughput(t, queue, since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.write('appendCallRecord', (t) => appendCallRecord(t, queue, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.read('listCallRecords', (t) => listCallRecords(t, queue, query));
  }

  async setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void> {
    await this.write('setGroupLimits', (t) => setGroupLimits(t, queue, group, limits), { oneStatement: true });
  }

  async getGroupLimits(queue: string, group: string): Promise<GroupLimits | null> {
    return this.read('getGroupLimits', (t) => getGroupLimits(t, queue, group));
  }

  async setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void> {
    await this.write('setRouteLimits', (t) => setRouteLimits(t, queue, route, limits), { oneStatement: true });
  }

  async getRouteLimits(queue: string, route: string): Promise<RouteLimits | null> {
    return this.read('getRouteLimits', (t) => getRouteLimits(t, queue, route));
  }

  async listGroups(query: GroupListQuery): Promise<GroupPage> {
    return this.read('listGroups', (t) => listGroups(t, query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.read('countByState', (t) => countByState(t, queue));
  }

  async listQueues(): Promise<string[]> {
    return this.read('listQueues', (t) => listQueues(t));
  }

  async appendLogs(_queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.write('appendLogs', (t) => appendLogs(t, lines));
  }

  async getLogs(_queue: string, jobId: string): Promise<LogLine[]> {
    return this.read('getLogs', (t) => getLogs(t, jobId));
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.write('registerWorker', (t) => registerWorker(t, info, ttlMs));
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.write('heartbeat', (t) => heartbeat(t, queue, workerId, ttlMs, status));
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.write('sendWorkerCommand', (t) => sendWorkerCommand(t, queue, workerId, command));
  }

  async unregisterWorker(_queue: string, workerId: string): Promise<void> {
    await this.write('unregisterWorker', (t) => unregisterWorker(t, workerId));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.read('listWorkers', (t) => liveWorkers(t, queue, Date.now()));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.write('saveSchedule', (t) => saveSchedule(t, queue, definition));
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.read('listSchedules', (t) => listSchedules(t, queue));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.write('setSchedulePaused', (t) => setSchedulePaused(t, queue, id, paused));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.write('removeSchedule', (t) => removeSchedule(t, queue, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.write('fireSchedule', (t) => fireSchedule(t, queue, id, version, firing));
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.write('advanceSchedule', (t) => advanceSchedule(t, queue, id, version, next));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    this.assertOpen('subscribe');
    try {
      return await this.interest.subscribe(queue, types ?? JOB_EVENT_TYPES, () => this.events.subscribe(queue, listener, types));
    } catch (err) {
      throw mapPostgresError(err, 'subscribe', { queue });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.commits.close(new SkqError('BACKEND_UNAVAILABLE', 'postgres: the backend closed before this write started'));
    this.upkeep.close();
    this.interest.close();
    await this.events.close();
    await this.store.pool.end().catch(() => undefined);
  }

  /** Runs `body` in a transaction shared with the writes asked for meanwhile (see `group-commit.ts`). */
  private async write<T>(operation: string, body: (t: PgTx) => Promise<T>, options?: { oneStatement?: boolean }): Promise<T> {
    this.assertOpen(operation);
    const value = await this.commits.write(operation, body, options);
    this.upkeep.wrote();
    return value;
  }

  /** Runs a read's statements on a pooled connection, outside any transaction. */
  private read<T>(operation: string, body: (t: PgTx) => Promise<T>): Promise<T> {
    this.assertOpen(operation);
    return autocommit(this.store, operation, body);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new SkqError('BACKEND_UNAVAILABLE', `postgres ${operation}: the backend is closed`);
  }
}

let savepoints = 0;

/** The caller's transaction as something to run statements on; anything else is refused. */
function asQueryable(transaction: unknown): Queryable {
  // A pool runs each statement on whichever connection is free, outside the caller's transaction.
  if (transaction instanceof pg.Pool) {
    throw new SkqError('ARGS_INVALID', 'tx must be one client inside BEGIN (const client = await pool.connect()), not the pool', { context: { field: 'tx' } });
  }
  if (typeof (transaction as Queryable | null)?.query !== 'function') {
    throw new SkqError('ARGS_INVALID', 'tx must be a node-postgres client inside BEGIN (or have its query({ text, values }) method)', { context: { field: 'tx' } });
  }
  return transaction as Queryable;
}

function warn(logger: Logger | false, opts: ParsedPostgresOptions, message: string, err: unknown): void {
  if (logger !== false) logger.warn({ schema: opts.schema, err }, `postgres: ${message}`);
}
