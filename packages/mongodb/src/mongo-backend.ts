import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import {
  SkqError,
  type GroupLimits,
  type GroupPage,
  type JobEvent,
  type JobRecord,
  type LogLine,
  type Logger,
  type RouteLimits,
  type ScheduleRecord,
  type StateCounts,
  type WorkerInfo,
} from '@skq/core';
import {
  checkJobSizes,
  redactUrl,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimResult,
  type EnqueueResult,
  type FailRequest,
  type GroupListQuery,
  type GroupStorage,
  type JobEventListener,
  type LeaseToken,
  type ListJobsQuery,
  type NewJob,
  type ScheduleDefinition,
  type ScheduleFiring,
  type StorageBackend,
  type StorageCapabilities,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core/backend';
import { ensureIndexes } from './collections.js';
import { EventFeed, chooseWakeupSource, type WakeupSource } from './event-feed.js';
import { MongoConnection } from './mongo-connection.js';
import { mapMongoError } from './mongo-errors.js';
import { resolveMongoOptions, type MongoOptions, type ParsedMongoOptions } from './mongo-options.js';
import { appendCallRecord, listCallRecords } from './operations/call-records.js';
import { ClaimBatches } from './operations/claim-batches.js';
import { claimDeliveries } from './operations/claim.js';
import { enqueueJobs } from './operations/enqueue.js';
import { cancelJob, removeJobs, rescheduleJob, retryJob } from './operations/job-actions.js';
import { getGroupLimits, getRouteLimits, listGroups, setGroupLimits, setRouteLimits } from './operations/groups.js';
import { completeDelivery, failDelivery } from './operations/job-endings.js';
import { extendLeases, recoverExpired } from './operations/leases.js';
import { countByState, getJob, listJobs, listQueues, readThroughput } from './operations/listing.js';
import { appendLogs, getLogs, setProgress } from './operations/logs-and-progress.js';
import { pausedRoutes, setPaused } from './operations/pause.js';
import { advanceSchedule, fireSchedule, listSchedules, removeSchedule, saveSchedule, setSchedulePaused } from './operations/schedules.js';
import { MongoStore } from './operations/store.js';
import { heartbeat, liveWorkers, registerWorker, sendWorkerCommand, unregisterWorker } from './operations/workers.js';

type EventType = JobEvent['type'];

const logged = new Set<string>();
/**
 * The most bytes of JSON one result, error, log line or job may take (see `maxValueBytes`). A
 * document stops at 16 MiB of BSON (16,777,216 bytes), and a delivery holds its job's arguments and
 * options next to its result or error and up to 16 KB of progress: two values of this size, the
 * progress and the other fields fit with over 700 KB to spare.
 */
const MAX_VALUE_BYTES = 8_000_000;

/**
 * The MongoDB backend, on the official driver. Each step is a single-document atomic operation
 * (no multi-document transactions, so it runs on a standalone server as on a replica set):
 *
 * - a claim is one `findOneAndUpdate` per delivery, sorted by priority, run time and enqueue order;
 * - `complete`, `fail` and lease extensions are compare-and-sets on the lease holder;
 * - a job with one delivery is one document; a job with several writes a header first, holding
 *   the deliveries it promises, then the deliveries (see `operations/enqueue.ts`);
 * - lifecycle events are written after the step, batched per tick, so they cost no round trip;
 * - groups (`capabilities.groups`): a route with grouped jobs or a rate claims by fair turns among
 *   its groups (`operations/group-claim.ts`), and limits hold exactly across processes through
 *   compare-and-sets on slot documents: a group's concurrency slots name the delivery each runs
 *   (`group-slots.ts`), a rate's slots the time of a start (`rate-windows.ts`, on the claim's
 *   clock, which also stamps `startedAt` and leases); this process's claims arriving while a pass
 *   over such a route runs share the next one (`claim-batches.ts`). Not on FerretDB v1, whose
 *   compare-and-sets are not atomic (see {@link keepsGroups}).
 *
 * Each operation is a function in `operations/`, whose header says what it reads, writes and
 * returns; this class holds the connection, its lifecycle and the capabilities, and runs each
 * operation as one call (see `run`).
 *
 * Wake-ups come from a change stream, a tailable cursor on a capped events collection, or polling,
 * whichever is the best the server offers (see `wakeups`).
 *
 * A client that keeps failing server selection is replaced by a new one (see {@link MongoConnection}):
 * after 3 failures in a row spanning at least `connectTimeoutMs`, so calls are served again at most
 * about 3 × `connectTimeoutMs` (30 s by default) after the server answers. A call that failed on the
 * old client without reaching a server runs again on the new one.
 *
 * @example
 * ```ts
 * const backend = await MongoBackend.connect('mongodb://127.0.0.1:27017/jobs?replicaSet=rs0');
 * const queue = new SkunkQueue('demo', { backend });
 * ```
 */
export class MongoBackend implements StorageBackend, GroupStorage {
  readonly kind = 'mongodb';
  /** `groups` is false on FerretDB v1 (see {@link keepsGroups}). */
  readonly capabilities: StorageCapabilities;
  private readonly store: MongoStore;
  private readonly claims: ClaimBatches;
  private closed = false;

  private constructor(
    private readonly connection: MongoConnection,
    private readonly feed: EventFeed,
    logger: Logger | false,
    groups: boolean,
  ) {
    this.capabilities = { crossProcess: true, pushEvents: feed.source !== 'poll', batchClaim: true, durable: true, maxValueBytes: MAX_VALUE_BYTES, groups };
    this.store = new MongoStore(connection.c, () => feed.poke(), logger, groups);
    this.claims = new ClaimBatches((pass, hooks) => claimDeliveries(this.store, pass, this, hooks));
  }

  /**
   * The database of this store, of the current client. A client that keeps failing server selection
   * is replaced and closed, and its `Db` with it: read this at each use, or give `CappedQueue` the
   * backend itself, which does.
   */
  get db(): Db {
    return this.connection.db;
  }

  /** Which wake-up mechanism this backend chose. */
  get wakeupSource(): WakeupSource {
    return this.feed.source;
  }

  /**
   * Connects, picks the wake-up mechanism (logged once per store) and creates the indexes.
   *
   * @example
   * ```ts
   * const backend = await MongoBackend.connect({ url: 'mongodb://127.0.0.1:27017', database: 'jobs', wakeups: 'poll' });
   * ```
   */
  static async connect(options: MongoOptions | string): Promise<MongoBackend> {
    const opts: ParsedMongoOptions = resolveMongoOptions(options);
    let client: MongoClient;
    const clientOptions: MongoClientOptions = { serverSelectionTimeoutMS: opts.connectTimeoutMs, connectTimeoutMS: opts.connectTimeoutMs, socketTimeoutMS: opts.socketTimeoutMs };
    try {
      // The driver checks the URL's options here: a bad one is a configuration error, named as such.
      client = new MongoClient(opts.url, clientOptions);
    } catch (err) {
      throw mapMongoError(err, `open ${redactUrl(opts.url)}`);
    }
    try {
      await client.connect();
      const connection = new MongoConnection(client, opts.url, clientOptions, opts.database, opts.collectionPrefix, opts.connectTimeoutMs, opts.logger);
      const { c } = connection;
      const { source, why } = await chooseWakeupSource(connection.db, c.events, opts.wakeups, opts.eventsCappedBytes);
      const groups = await keepsGroups(connection.db);
      await ensureIndexes(c, groups);
      const where = `${redactUrl(opts.url)} ${opts.database}.${opts.collectionPrefix}_*`;
      if (opts.logger !== false && !logged.has(`${where} ${source}`)) {
        logged.add(`${where} ${source}`);
        opts.logger.info({ database: opts.database, collectionPrefix: opts.collectionPrefix, wakeups: source }, `mongodb ${where}: wake-ups by ${source}${why ? ` (${why.replace(/^; /, '')})` : ''}`);
      }
      return new MongoBackend(connection, new EventFeed(connection, source, opts.pollIntervalMs, opts.eventRetentionMs), opts.logger, groups);
    } catch (err) {
      await client.close().catch(() => {});
      throw mapMongoError(err, `connect to ${redactUrl(opts.url)}`);
    }
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    // All or nothing: a job over the document limit is refused before any of the batch is written.
    checkJobSizes(jobs, this.capabilities.maxValueBytes);
    return this.run('enqueue', () => enqueueJobs(this.store, jobs));
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.run('claim', () => this.claims.claim(request));
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    await this.run('complete', () => completeDelivery(this.store, queue, lease, result));
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return this.run('fail', () => failDelivery(this.store, queue, lease, request));
  }

  async extendLease(_queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.run('extendLease', () => extendLeases(this.store, leases, leaseMs));
  }

  async recoverExpired(queue: string, now: number = Date.now()): Promise<number> {
    return this.run('recoverExpired', () => recoverExpired(this.store, queue, now));
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.run('cancel', () => cancelJob(this.store, queue, jobId));
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.run('reschedule', () => rescheduleJob(this.store, queue, jobId, runAt));
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.run('getJob', () => getJob(this.store, queue, jobId));
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.run('listJobs', () => listJobs(this.store, query));
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return this.run('retryJob', () => retryJob(this.store, queue, jobId, request.runAt, request.attempts));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    return this.run('removeJobs', () => removeJobs(this.store, queue, jobIds));
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.run('setProgress', () => setProgress(this.store, queue, lease, progress));
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.run('setPaused', () => setPaused(this.store, queue, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.run('pausedRoutes', () => pausedRoutes(this.store, queue));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.run('throughput', () => readThroughput(this.store, queue, since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.run('appendCallRecord', () => appendCallRecord(this.store, queue, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.run('listCallRecords', () => listCallRecords(this.store, queue, query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.run('countByState', () => countByState(this.store, queue));
  }

  async appendLogs(_queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.run('appendLogs', () => appendLogs(this.store, lines));
  }

  async getLogs(_queue: string, jobId: string): Promise<LogLine[]> {
    return this.run('getLogs', () => getLogs(this.store, jobId));
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.run('registerWorker', () => registerWorker(this.store, info, ttlMs));
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.run('heartbeat', () => heartbeat(this.store, queue, workerId, ttlMs, status));
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.run('sendWorkerCommand', () => sendWorkerCommand(this.store, queue, workerId, command));
  }

  async unregisterWorker(_queue: string, workerId: string): Promise<void> {
    await this.run('unregisterWorker', () => unregisterWorker(this.store, workerId));
  }

  async listQueues(): Promise<string[]> {
    return this.run('listQueues', () => listQueues(this.store));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.run('listWorkers', () => liveWorkers(this.store, queue, Date.now()));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.run('saveSchedule', () => saveSchedule(this.store, queue, definition, Date.now()));
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.run('listSchedules', () => listSchedules(this.store, queue));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.run('setSchedulePaused', () => setSchedulePaused(this.store, queue, id, paused, Date.now()));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.run('removeSchedule', () => removeSchedule(this.store, queue, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.run('fireSchedule', () => fireSchedule(this.store, queue, id, version, firing));
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.run('advanceSchedule', () => advanceSchedule(this.store, queue, id, version, next, Date.now()));
  }

  async setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void> {
    await this.run('setGroupLimits', () => setGroupLimits(this.store, queue, group, limits));
  }

  async getGroupLimits(queue: string, group: string): Promise<GroupLimits | null> {
    return this.run('getGroupLimits', () => getGroupLimits(this.store, queue, group));
  }

  async setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void> {
    await this.run('setRouteLimits', () => setRouteLimits(this.store, queue, route, limits));
  }

  async getRouteLimits(queue: string, route: string): Promise<RouteLimits | null> {
    return this.run('getRouteLimits', () => getRouteLimits(this.store, queue, route));
  }

  async listGroups(query: GroupListQuery): Promise<GroupPage> {
    return this.run('listGroups', () => listGroups(this.store, query));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly EventType[]): Promise<() => Promise<void>> {
    this.assertOpen('subscribe');
    const unsubscribe = this.feed.subscribe(queue, listener, types);
    return async () => unsubscribe();
  }

  /** Writes the counts and events recorded so far, stops the event feed and closes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
    this.feed.close();
    await this.connection.close();
  }

  /**
   * Runs one operation as one call: refused once closed, its error mapped to skunq's codes and
   * named after `operation`. A call that failed on a client since replaced without reaching a
   * server runs once more, on the new client (see {@link MongoConnection.failed}).
   */
  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen(operation);
    for (let again = true; ; again = false) {
      const generation = this.connection.generation;
      try {
        const result = await fn();
        this.connection.succeeded(generation);
        return result;
      } catch (err) {
        // A call the old client never sent runs once more on the client that replaced it.
        if (this.connection.failed(generation, err) && again && !this.closed) continue;
        throw mapMongoError(err, operation);
      }
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new SkqError('BACKEND_UNAVAILABLE', `mongodb ${operation}: the backend is closed`);
  }
}

/**
 * Whether the server can keep groups' limits exact: not FerretDB v1 (its `buildInfo` has a
 * `ferretdbVersion`, 1.x or, in a build without one, "unknown"). Its conditional updates read and
 * then write the whole document without isolation, so a write racing a claim can undo it: a
 * delivery then looks ended while it runs, and its group's slot is taken again. (It also reads a
 * whole collection for any query but one by `_id`: at 10,000 deliveries a claim takes seconds.) A
 * server that refuses `buildInfo` is taken for MongoDB.
 */
async function keepsGroups(db: Db): Promise<boolean> {
  const info: { ferretdbVersion?: unknown } = await db.admin().command({ buildInfo: 1 }).catch(() => ({}));
  if (info.ferretdbVersion === undefined) return true;
  return /^v?([2-9]|[1-9]\d+)\./.test(String(info.ferretdbVersion));
}
