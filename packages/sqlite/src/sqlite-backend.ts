import Database from 'better-sqlite3';
import {
  SkqError,
  type JobEvent,
  type JobRecord,
  type LogLine,
  type ScheduleRecord,
  type StateCounts,
  type WorkerInfo,
  type GroupLimits,
  type GroupPage,
  type RouteLimits,
} from '@skq/core';
import {
  retentionRule,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimResult,
  type EnqueueResult,
  type FailRequest,
  type GroupListQuery,
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
import { EventFeed } from './event-feed.js';
import { GroupCommit } from './group-commit.js';
import { claim } from './operations/claim.js';
import { getGroupLimits, getRouteLimits, listGroups, setGroupLimits, setRouteLimits } from './operations/groups.js';
import { enqueue } from './operations/enqueue.js';
import { eventSource } from './operations/events.js';
import { cancel, removeJobs, reschedule, retryJob } from './operations/job-control.js';
import { throughput } from './operations/job-endings.js';
import { complete, extendLease, fail, setProgress } from './operations/lease-holder-writes.js';
import { countByState, getJob, listJobs, listQueues } from './operations/listing.js';
import { appendCallRecord, appendLogs, getLogs, listCallRecords } from './operations/logs-and-call-records.js';
import { pausedRoutes, setPaused } from './operations/pause.js';
import { recoverExpired } from './operations/recovery.js';
import { advanceSchedule, fireSchedule, listSchedules, removeSchedule, saveSchedule, setSchedulePaused } from './operations/schedules.js';
import type { TallyMark } from './operations/tallies.js';
import { openStore, transactionEnded, type SqliteStore } from './operations/store.js';
import { heartbeat, liveWorkers, registerWorker, sendWorkerCommand, unregisterWorker } from './operations/workers-and-commands.js';
import { prepareSchema, shrinkableWhenNew } from './schema-migration.js';
import { mapSqliteError } from './sqlite-errors.js';
import { resolveSqliteOptions, type SqliteOptions } from './sqlite-options.js';

type Db = InstanceType<typeof Database>;

/** Bytes of WAL file SQLite keeps once it restarts the log: the size of its automatic checkpoint (1,000 pages of 4 KB). */
const WAL_SIZE_KEPT = 4 * 1024 * 1024;

/**
 * The embedded default backend: one SQLite file in WAL mode, shared by every process on the
 * machine that opens it. Each step is one SQLite transaction; SQLite's single writer makes
 * claims atomic across processes.
 *
 * This class opens the connection, prepares every statement once and runs each operation of
 * `operations/` (one function each, saying what it reads, writes and returns) in a write, grouped
 * by {@link GroupCommit}, or in a plain read.
 *
 * @example
 * ```ts
 * const backend = new SqliteBackend('sqlite:.skunq/skunq.db');
 * const queue = new SkunkQueue('demo', { backend });
 * ```
 */
export class SqliteBackend implements StorageBackend {
  readonly kind = 'sqlite';
  readonly capabilities: StorageCapabilities;
  private readonly db: Db;
  private readonly feed: EventFeed;
  private readonly store: SqliteStore;
  private readonly commits: GroupCommit<{ events: number; tallies: TallyMark }>;
  private closed = false;

  constructor(options: SqliteOptions | string) {
    const opts = resolveSqliteOptions(options);
    try {
      this.db = new Database(opts.path, { timeout: opts.busyTimeoutMs });
      shrinkableWhenNew(this.db);
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives any process crash; only an OS crash can lose the last commits.
      this.db.pragma('synchronous = NORMAL');
      // Readers in other processes can keep a checkpoint from finishing, and the WAL then grows past its 1,000 pages (4 MB);
      // SQLite leaves the file at its largest size unless told to cut it back when it restarts the log.
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_KEPT}`);
      prepareSchema(this.db, Date.now());
    } catch (err) {
      if (err instanceof SkqError) throw err;
      throw mapSqliteError(err, `open ${opts.path}`);
    }
    const store = (this.store = openStore(this.db, { removeOnComplete: retentionRule(opts.removeOnComplete), removeOnFail: retentionRule(opts.removeOnFail) }));
    const { recorded, tallies } = store;
    const talliesSql = { counts: store.stmt.addCount, throughput: store.endingStmt.countEnding };
    this.commits = new GroupCommit(this.db, mapSqliteError, () => this.feed.committed(recorded.splice(0), store.seqBase), {
      mark: () => ({ events: recorded.length, tallies: tallies.mark() }),
      undo: (mark) => {
        recorded.splice(mark.events);
        tallies.undo(mark.tallies);
      },
      closing: () => tallies.write(talliesSql),
      ended: () => {
        tallies.clear();
        transactionEnded(store);
      },
    });
    // prefetchMax 512: a worker of quick jobs holds more, so its completions and next claim share fewer commits (each writes
    // about 15 pages whatever its size); at concurrency 1, 256 ran about 10 % faster than the worker's default of 64, and
    // 512 about 10 % faster again (30,135 against 27,435 jobs/s, alternating runs; 2.7 % at concurrency 10).
    this.capabilities = { crossProcess: opts.path !== ':memory:', pushEvents: false, batchClaim: true, durable: opts.path !== ':memory:', groups: true, prefetchMax: 512 };
    this.feed = new EventFeed(eventSource(this.store, opts.eventRetentionCount), opts.path, opts.pollIntervalMs, opts.eventRetentionMs);
  }

  // The hot steps are not `async`: with a job context active, every extra promise runs Node's async hooks.
  enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    return this.write('enqueue', () => enqueue(this.store, jobs));
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.write('claim', () => claim(this.store, request));
  }

  complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    return this.write('complete', () => complete(this.store, queue, lease, result));
  }

  fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return this.write('fail', () => fail(this.store, queue, lease, request));
  }

  async extendLease(_queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.write('extendLease', () => extendLease(this.store, leases, leaseMs));
  }

  async recoverExpired(queue: string, now: number = Date.now()): Promise<number> {
    return this.write('recoverExpired', () => recoverExpired(this.store, queue, now));
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.write('cancel', () => cancel(this.store, queue, jobId));
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.write('reschedule', () => reschedule(this.store, queue, jobId, runAt));
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.read('getJob', () => getJob(this.store, queue, jobId));
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.read('listJobs', () => listJobs(this.store, query));
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return this.write('retryJob', () => retryJob(this.store, queue, jobId, request));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    return this.write('removeJobs', () => removeJobs(this.store, queue, jobIds));
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.write('setProgress', () => setProgress(this.store, queue, lease, progress));
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.write('setPaused', () => setPaused(this.store, queue, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.read('pausedRoutes', () => pausedRoutes(this.store, queue));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.read('throughput', () => throughput(this.store, queue, since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.write('appendCallRecord', () => appendCallRecord(this.store, queue, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.read('listCallRecords', () => listCallRecords(this.store, queue, query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.read('countByState', () => countByState(this.store, queue));
  }

  async listQueues(): Promise<string[]> {
    return this.read('listQueues', () => listQueues(this.store));
  }

  async appendLogs(_queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.write('appendLogs', () => appendLogs(this.store, lines));
  }

  async getLogs(_queue: string, jobId: string): Promise<LogLine[]> {
    return this.read('getLogs', () => getLogs(this.store, jobId));
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.write('registerWorker', () => registerWorker(this.store, info, ttlMs));
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.write('heartbeat', () => heartbeat(this.store, queue, workerId, ttlMs, status));
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.write('sendWorkerCommand', () => sendWorkerCommand(this.store, queue, workerId, command));
  }

  async unregisterWorker(_queue: string, workerId: string): Promise<void> {
    await this.write('unregisterWorker', () => unregisterWorker(this.store, workerId));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.read('listWorkers', () => liveWorkers(this.store, queue, Date.now()));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.write('saveSchedule', () => saveSchedule(this.store, queue, definition));
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.read('listSchedules', () => listSchedules(this.store, queue));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.write('setSchedulePaused', () => setSchedulePaused(this.store, queue, id, paused));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.write('removeSchedule', () => removeSchedule(this.store, queue, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.write('fireSchedule', () => fireSchedule(this.store, queue, id, version, firing));
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.write('advanceSchedule', () => advanceSchedule(this.store, queue, id, version, next));
  }

  async setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void> {
    await this.write('setGroupLimits', () => setGroupLimits(this.store, queue, group, limits));
  }

  async getGroupLimits(queue: string, group: string): Promise<GroupLimits | null> {
    return this.read('getGroupLimits', () => getGroupLimits(this.store, queue, group));
  }

  async setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void> {
    await this.write('setRouteLimits', () => setRouteLimits(this.store, queue, route, limits));
  }

  async getRouteLimits(queue: string, route: string): Promise<RouteLimits | null> {
    return this.read('getRouteLimits', () => getRouteLimits(this.store, queue, route));
  }

  async listGroups(query: GroupListQuery): Promise<GroupPage> {
    return this.read('listGroups', () => listGroups(this.store, query));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    this.assertOpen('subscribe');
    const unsubscribe = this.feed.subscribe(queue, listener, types);
    return async () => unsubscribe();
  }

  /**
   * The durability in force on this connection, read back from SQLite rather than restated: the
   * journal mode (`wal`, or `memory` for `:memory:`) and the `synchronous` level.
   *
   * @example
   * ```ts
   * new SqliteBackend('sqlite:jobs.db').durability(); // { journalMode: 'wal', synchronous: 'NORMAL' }
   * ```
   */
  durability(): { journalMode: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' } {
    return this.read('durability', () => ({
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: SYNCHRONOUS_LEVELS[Number(this.db.pragma('synchronous', { simple: true }))] ?? 'EXTRA',
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.commits.flush();
    this.feed.close();
    this.db.close();
  }

  /** Runs `fn` in a write transaction shared with the other writes of this event-loop turn ({@link GroupCommit}). */
  private write<T>(operation: string, fn: () => T): Promise<T> {
    // Refused as a rejection, never a throw: the steps that return this promise are not `async`.
    if (this.closed) return Promise.reject(closedError(operation));
    const { store } = this;
    return this.commits.write(operation, () => {
      try {
        const value = fn();
        // The step's count changes join its transaction's only if it ends well: a step that throws leaves none.
        store.tallies.keepStep();
        return value;
      } finally {
        store.tallies.dropStep();
      }
    });
  }

  private read<T>(operation: string, fn: () => T): T {
    this.assertOpen(operation);
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, operation);
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw closedError(operation);
  }
}

function closedError(operation: string): SkqError {
  return new SkqError('BACKEND_UNAVAILABLE', `sqlite ${operation}: the backend is closed`);
}

/** `PRAGMA synchronous` answers a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
const SYNCHRONOUS_LEVELS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
