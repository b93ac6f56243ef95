import Database from 'better-sqlite3';
import {
  SkqError,
  cancelledError,
  expiredLeaseError,
  workerGoneError,
  expiredLeaseOutcome,
  failureOutcome,
  holdsLease,
  jobIdOfDelivery,
  leaseLost,
  newDelivery,
  planDeliveries,
  unreadableJobError,
  zeroStateCounts,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimedDelivery,
  type ClaimResult,
  type EnqueueResult,
  type FailRequest,
  type JobEvent,
  type JobEventListener,
  type JobRecord,
  type JobState,
  type LeaseToken,
  type ListJobsQuery,
  type LogLine,
  type NewJob,
  type ScheduleDefinition,
  type ScheduleFiring,
  type ScheduleRecord,
  type StateCounts,
  type StorageBackend,
  type StorageCapabilities,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerInfo,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core';
import { EventFeed } from './event-feed.js';
import { GroupCommit } from './group-commit.js';
import { ADDED_COLUMNS, LEAN_LAYOUT_SQL, OPERATIONS_SQL, SCHEDULES_SQL, SCHEMA_SQL, SCHEMA_VERSION, STATE_COUNTS_SQL } from './schema.js';
import { prepareStatements, type SqliteStatements } from './sqlite-statements.js';
import { SqliteJobEndings } from './sqlite-job-endings.js';
import { SqliteSchedules } from './sqlite-schedules.js';
import { mapSqliteError } from './sqlite-errors.js';
import { resolveSqliteOptions, type SqliteOptions } from './sqlite-options.js';
import { toClaimed, toEvent, toJobRecord, toWorker, type DeliveryRow, type EventRow, type JobRow, type WorkerRow } from './rows.js';

type Db = InstanceType<typeof Database>;
type EventType = JobEvent['type'];

/**
 * The embedded default backend: one SQLite file in WAL mode, shared by every process on the
 * machine that opens it. Each step is one SQLite transaction; SQLite's single writer makes
 * claims atomic across processes.
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
  private readonly stmt: SqliteStatements;
  private readonly schedules: SqliteSchedules;
  private readonly endings: SqliteJobEndings;
  private readonly commits: GroupCommit;
  private closed = false;

  constructor(options: SqliteOptions | string) {
    const opts = resolveSqliteOptions(options);
    try {
      this.db = new Database(opts.path, { timeout: opts.busyTimeoutMs });
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives any process crash; only an OS crash can lose the last commits.
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA_SQL);
      this.db.transaction(() => addMissingColumns(this.db)).immediate();
      this.db.exec(OPERATIONS_SQL);
      this.db.exec(SCHEDULES_SQL);
      this.db.transaction(() => adoptLeanLayout(this.db)).immediate();
      this.db.prepare('INSERT INTO skq_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)').run('schema_version', String(SCHEMA_VERSION));
    } catch (err) {
      throw mapSqliteError(err, `open ${opts.path}`);
    }
    this.stmt = prepareStatements(this.db);
    this.schedules = new SqliteSchedules(this.db);
    this.endings = new SqliteJobEndings(this.db);
    this.commits = new GroupCommit(this.db, mapSqliteError, () => this.feed.poke());
    this.capabilities = { crossProcess: opts.path !== ':memory:', pushEvents: false, batchClaim: true, durable: opts.path !== ':memory:' };
    this.feed = new EventFeed(
      {
        maxSeq: () => (this.stmt.maxSeq.get() as { seq: number | null }).seq ?? 0,
        eventsBetween: (queue, after, upTo, limit, types) =>
          ((types ? this.stmt.eventsOfTypesBetween.all(after, upTo, queue, JSON.stringify(types), limit) : this.stmt.eventsBetween.all(after, upTo, queue, limit)) as EventRow[]).map(toEvent),
        trim: (before) => this.stmt.trimEvents.run({ before, keep: opts.eventRetentionCount }),
      },
      opts.path,
      opts.pollIntervalMs,
      opts.eventRetentionMs,
    );
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    return this.write('enqueue', () => this.insertJobs(jobs));
  }

  /** Stores jobs with their deliveries; runs inside a write transaction. */
  private insertJobs(jobs: NewJob[]): EnqueueResult[] {
    const now = Date.now();
    let workers: WorkerInfo[] | null = null;
    const storedResult = (job: NewJob): EnqueueResult | null => {
      const stored = this.stmt.deliveryCount.get(job.id) as { queue: string; n: number } | undefined;
      if (stored && stored.queue !== job.queue) throw idConflict(job, stored.queue);
      return stored ? { id: job.id, deduped: false, deliveries: stored.n } : null;
    };
    return jobs.map((job) => {
      if (job.dedupeKey) {
        const stored = storedResult(job);
        if (stored) return stored;
        const existing = this.stmt.findPendingByDedupe.get(job.queue, job.dedupeKey) as { id: string } | undefined;
        if (existing) return { id: existing.id, deduped: true, deliveries: 0 };
      }
      if (job.type === 'broadcast') workers ??= this.liveWorkers(job.queue, now);
      const targets = planDeliveries(job.routes, job.type, workers ?? []);
      // A job id seen before is the rare case: insert first and look only when the insert did nothing.
      const inserted = this.stmt.insertJob.run({
        id: job.id,
        queue: job.queue,
        name: job.name,
        args: JSON.stringify(job.args),
        routes: JSON.stringify(job.routes),
        type: job.type,
        priority: job.priority,
        created_at: job.createdAt,
        options: JSON.stringify(job.options),
        dedupe_key: job.dedupeKey ?? null,
        empty_state: targets.length === 0 ? 'cancelled' : null,
      });
      if (inserted.changes === 0) return storedResult(job)!;
      targets.forEach((target, index) => {
        const d = newDelivery(job, target, index);
        this.stmt.insertDelivery.run({
          id: d.id,
          job_id: d.jobId,
          queue: job.queue,
          route: d.route,
          target_worker: d.targetWorker,
          state: d.state,
          priority: d.priority,
          run_at: d.runAt,
          attempts: d.attempts,
          max_attempts: d.maxAttempts,
          recoveries: d.recoveries,
          cancel_requested: d.cancelRequested ? 1 : 0,
        });
        this.event(job.queue, 'enqueued', job.id, d.id, d.route, d.targetWorker, now);
      });
      if (targets.length === 0) {
        this.endings.endedEmpty(job.id, now);
        this.event(job.queue, 'cancelled', job.id, null, null, null, now);
      }
      return { id: job.id, deduped: false, deliveries: targets.length };
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.write('claim', () => {
      const now = request.now ?? Date.now();
      if (this.stmt.isPaused.get(request.queue, request.route)) return { deliveries: [], nextRunAt: null, paused: true };
      const rows: (DeliveryRow & { seq: number })[] = [];
      const params = { queue: request.queue, route: request.route, worker: request.workerId, now, lease_until: now + request.leaseMs };
      for (const { priority } of this.stmt.queuedPriorities.all(params) as { priority: number }[]) {
        const claimed = this.stmt.claimAtPriority.all({ ...params, priority, limit: request.limit - rows.length }) as (DeliveryRow & { seq: number })[];
        // RETURNING gives no order: restore the claim order.
        rows.push(...claimed.sort((a, b) => a.run_at - b.run_at || a.seq - b.seq));
        if (rows.length >= request.limit) break;
      }
      const deliveries: ClaimedDelivery[] = [];
      for (const row of rows) {
        const job = this.stmt.jobForRun.get(row.job_id) as Pick<JobRow, 'name' | 'args' | 'options'>;
        let claimed: ClaimedDelivery;
        try {
          claimed = toClaimed(row, job, now);
        } catch (cause) {
          // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
          this.stmt.finish.run({ id: row.id, state: 'failed', now, result: null, error: JSON.stringify(unreadableJobError(row.job_id, cause)) });
          this.event(row.queue, 'failed', row.job_id, row.id, row.route, request.workerId, now);
          this.endings.ended(request.queue, row.job_id, row.route, 'failed', now);
          continue;
        }
        this.event(row.queue, 'started', row.job_id, row.id, row.route, request.workerId, now);
        deliveries.push(claimed);
      }
      let nextRunAt: number | null = null;
      if (rows.length < request.limit) {
        const next = this.stmt.nextRunAt.get({ queue: request.queue, route: request.route, now, worker: request.workerId }) as { run_at: number | null };
        nextRunAt = next.run_at;
      }
      return { deliveries, nextRunAt };
    });
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    await this.write('complete', () => {
      const now = Date.now();
      const id = lease.deliveryId;
      const row = this.leased(queue, lease);
      this.stmt.finish.run({ id, state: 'succeeded', now, result: JSON.stringify(result ?? null), error: null });
      this.event(row.queue, 'succeeded', row.job_id, id, row.route, lease.workerId, now);
      this.endings.ended(queue, row.job_id, row.route, 'succeeded', now);
    });
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return this.write('fail', () => {
      const now = Date.now();
      const id = lease.deliveryId;
      const row = this.leased(queue, lease);
      const error = JSON.stringify(request.error);
      const outcome = failureOutcome(request, { cancelRequested: row.cancel_requested === 1 });
      if (outcome === 'retrying') this.stmt.requeue.run({ id, run_at: request.retryAt, error });
      else this.stmt.finish.run({ id, state: outcome, now, result: null, error });
      this.event(row.queue, outcome, row.job_id, id, row.route, lease.workerId, now);
      if (outcome !== 'retrying') this.endings.ended(queue, row.job_id, row.route, outcome, now);
      return outcome;
    });
  }

  async extendLease(_queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.write('extendLease', () => {
      const leaseUntil = Date.now() + leaseMs;
      return leases.filter((lease) => this.stmt.extend.run(leaseUntil, lease.deliveryId, lease.workerId, lease.attempt).changes === 1);
    });
  }

  async recoverExpired(queue: string, now: number = Date.now()): Promise<number> {
    return this.write('recoverExpired', () => {
      const expired = this.stmt.expired.all(queue, now) as DeliveryRow[];
      for (const row of expired) {
        const outcome = expiredLeaseOutcome({ cancelRequested: row.cancel_requested === 1, recoveries: row.recoveries });
        if (outcome === 'recovered') this.stmt.recover.run(now, row.id);
        else {
          const error = JSON.stringify(expiredLeaseError({ id: row.id, workerId: row.worker_id, recoveries: row.recoveries }, outcome));
          this.stmt.finish.run({ id: row.id, state: outcome, now, result: null, error });
        }
        this.event(queue, outcome, row.job_id, row.id, row.route, row.worker_id, now);
        if (outcome !== 'recovered') this.endings.ended(queue, row.job_id, row.route, outcome, now);
      }
      const orphaned = this.stmt.orphaned.all({ queue, now }) as DeliveryRow[];
      for (const row of orphaned) {
        const error = JSON.stringify(workerGoneError({ id: row.id, targetWorker: row.target_worker }));
        this.stmt.finish.run({ id: row.id, state: 'failed', now, result: null, error });
        this.event(queue, 'failed', row.job_id, row.id, row.route, row.target_worker, now);
        this.endings.ended(queue, row.job_id, row.route, 'failed', now);
      }
      return expired.length + orphaned.length;
    });
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.write('cancel', () => {
      const now = Date.now();
      const rows = this.stmt.openDeliveries.all({ job: jobId, queue }) as DeliveryRow[];
      const error = JSON.stringify(cancelledError(jobId));
      for (const row of rows) {
        if (row.state === 'queued') {
          this.stmt.finish.run({ id: row.id, state: 'cancelled', now, result: null, error });
          this.event(row.queue, 'cancelled', jobId, row.id, row.route, null, now);
          this.endings.ended(queue, jobId, row.route, 'cancelled', now);
        } else {
          this.stmt.requestCancel.run(row.id);
          this.event(row.queue, 'cancel-requested', jobId, row.id, row.route, row.worker_id, now);
        }
      }
      return rows.length > 0;
    });
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.write('reschedule', () => {
      const rows = this.stmt.queuedOf.all({ job: jobId, queue }) as DeliveryRow[];
      for (const row of rows) {
        this.stmt.setRunAt.run(runAt, row.id);
        this.event(row.queue, 'rescheduled', jobId, row.id, row.route, null, Date.now());
      }
      return rows.length > 0;
    });
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.read('getJob', () => {
      const row = this.stmt.job.get(jobId, queue) as JobRow | undefined;
      return row ? toJobRecord(row, this.stmt.deliveriesOf.all({ job: jobId }) as DeliveryRow[], Date.now()) : null;
    });
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.read('listJobs', () => {
      const now = Date.now();
      const rows = (
        query.after
          ? this.stmt.jobsAfter.all({ queue: query.queue, created_at: query.after.createdAt, id: query.after.id, limit: query.limit })
          : this.stmt.jobsNewest.all(query.queue, query.limit)
      ) as JobRow[];
      return rows.map((row) => toJobRecord(row, this.stmt.deliveriesOf.all({ job: row.id }) as DeliveryRow[], now));
    });
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return this.write('retryJob', () => {
      const rows = this.stmt.endedBadOf.all({ job: jobId, queue }) as DeliveryRow[];
      const now = Date.now();
      for (const row of rows) {
        this.stmt.retry.run({ id: row.id, run_at: request.runAt, attempts: request.attempts });
        this.event(queue, 'retrying', jobId, row.id, row.route, null, now);
      }
      if (rows.length) this.endings.reopened(jobId);
      return rows.length;
    });
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    return this.write('removeJobs', () => {
      const now = Date.now();
      return jobIds.filter((jobId) => {
        const found = this.stmt.removable.get(jobId, queue) as { running: number } | undefined;
        if (!found || found.running > 0) return false;
        this.endings.remove(jobId);
        this.event(queue, 'removed', jobId, null, null, null, now);
        return true;
      });
    });
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.write('setProgress', () => {
      const row = this.leased(queue, lease);
      this.stmt.setProgress.run(JSON.stringify(progress ?? null), lease.deliveryId);
      this.event(queue, 'progress', row.job_id, row.id, row.route, lease.workerId, Date.now(), progress);
    });
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.write('setPaused', () => {
      const now = Date.now();
      const changed = (paused ? this.stmt.pause.run(queue, route, now) : this.stmt.unpause.run(queue, route)).changes === 1;
      if (changed) this.event(queue, paused ? 'paused' : 'resumed', null, null, route, null, now);
      return changed;
    });
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.read('pausedRoutes', () => (this.stmt.pausedOf.all(queue) as { route: string }[]).map((r) => r.route));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.read('throughput', () => this.endings.throughput(queue, since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.write('appendCallRecord', () => this.stmt.insertCallRecord.run(queue, record.name, record.at, JSON.stringify(record)));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.read('listCallRecords', () => {
      const rows = (query.name ? this.stmt.callRecordsNamed.all(queue, query.name, query.limit) : this.stmt.callRecords.all(queue, query.limit)) as { record: string }[];
      return rows.map((r) => JSON.parse(r.record) as CallRecord);
    });
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.read('countByState', () => {
      const counts: StateCounts = {};
      for (const row of this.stmt.counts.all(queue) as { route: string; state: JobState; n: number }[]) {
        counts[row.route] ??= zeroStateCounts();
        counts[row.route]![row.state] += row.n;
      }
      // A queued delivery whose time has not come is shown as scheduled.
      for (const row of this.stmt.scheduledCounts.all(queue, Date.now()) as { route: string; n: number }[]) {
        const route = (counts[row.route] ??= zeroStateCounts());
        route.queued = Math.max(0, route.queued - row.n);
        route.scheduled += row.n;
      }
      return counts;
    });
  }

  async listQueues(): Promise<string[]> {
    return this.read('listQueues', () => (this.stmt.queueNames.all() as { queue: string }[]).map((r) => r.queue));
  }

  async appendLogs(_queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.write('appendLogs', () => {
      for (const line of lines) {
        this.stmt.insertLog.run(jobIdOfDelivery(line.deliveryId), line.deliveryId, line.at, line.stream, line.line);
      }
    });
  }

  async getLogs(_queue: string, jobId: string): Promise<LogLine[]> {
    return this.read('getLogs', () =>
      (this.stmt.logsOf.all(jobId) as { delivery_id: string; at: number; stream: LogLine['stream']; line: string }[]).map((r) => ({
        deliveryId: r.delivery_id,
        at: r.at,
        stream: r.stream,
        line: r.line,
      })),
    );
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.write('registerWorker', () => {
      const now = Date.now();
      this.stmt.upsertWorker.run({ ...info, routes: JSON.stringify(info.routes), started_at: info.startedAt, now, expires_at: now + ttlMs });
    });
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.write('heartbeat', () => {
      const now = Date.now();
      const row = this.stmt.liveWorker.get(workerId, queue, now) as WorkerRow | undefined;
      if (!row) return null;
      const worker = toWorker(row);
      let command = worker.command;
      if (command && command.id === status.obeyedCommandId && command.obeyedAt === null) command = { ...command, obeyedAt: now };
      this.stmt.heartbeat.run({
        id: workerId,
        now,
        expires_at: now + ttlMs,
        state: status.state,
        running: JSON.stringify(status.runningJobIds),
        command: command ? JSON.stringify(command) : null,
      });
      return { ...worker, lastSeenAt: now, expiresAt: now + ttlMs, state: status.state, runningJobIds: status.runningJobIds, command };
    });
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.write('sendWorkerCommand', () => {
      const now = Date.now();
      if (this.stmt.setCommand.run(JSON.stringify(command), workerId, queue, now).changes !== 1) return false;
      this.event(queue, 'worker-command', null, null, null, workerId, now, command.id);
      return true;
    });
  }

  async unregisterWorker(_queue: string, workerId: string): Promise<void> {
    await this.write('unregisterWorker', () => this.stmt.deleteWorker.run(workerId));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.read('listWorkers', () => this.liveWorkers(queue, Date.now()));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.write('saveSchedule', () => this.schedules.save(queue, definition, Date.now()));
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.read('listSchedules', () => this.schedules.list(queue));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.write('setSchedulePaused', () => this.schedules.setPaused(queue, id, paused, Date.now()));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.write('removeSchedule', () => this.schedules.remove(queue, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.write('fireSchedule', () => this.schedules.fire(queue, id, version, firing, (job) => this.insertJobs([job])));
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.write('advanceSchedule', () => this.schedules.advance(queue, id, version, next, Date.now()));
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

  private liveWorkers(queue: string, now: number): WorkerInfo[] {
    return (this.stmt.liveWorkers.all(queue, now) as WorkerRow[]).map(toWorker);
  }

  private leased(queue: string, lease: LeaseToken): DeliveryRow {
    const row = this.stmt.delivery.get(lease.deliveryId) as DeliveryRow | undefined;
    const stored = row && row.queue === queue ? { state: row.state as JobState, workerId: row.worker_id, attempts: row.attempts } : null;
    if (!stored || !holdsLease(stored, lease)) throw leaseLost(queue, lease, stored);
    return row!;
  }

  private event(queue: string, type: EventType, jobId: string | null, delivery: string | null, route: string | null, workerId: string | null, at: number, data?: unknown): void {
    this.stmt.insertEvent.run(queue, type, jobId ?? '', delivery, route, workerId, at, data === undefined ? null : JSON.stringify(data));
  }

  /** Runs `fn` in a write transaction shared with the other writes of this event-loop turn ({@link GroupCommit}). */
  private write<T>(operation: string, fn: () => T): Promise<T> {
    this.assertOpen(operation);
    return this.commits.write(operation, fn);
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
    if (this.closed) throw new SkqError('BACKEND_UNAVAILABLE', `sqlite ${operation}: the backend is closed`);
  }
}

/** `PRAGMA synchronous` answers a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
const SYNCHRONOUS_LEVELS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;

/** Moves a file to the version-3 layout once: its indexes, and state counts kept by triggers. */
function adoptLeanLayout(db: Db): void {
  db.exec(LEAN_LAYOUT_SQL);
  const triggers = db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'skq_count_%'`).get() as { n: number };
  if (triggers.n === 0) db.exec(STATE_COUNTS_SQL);
}

/** Adds the columns of {@link ADDED_COLUMNS} that a file made by an older skunq lacks. */
function addMissingColumns(db: Db): void {
  for (const { table, column, definition } of ADDED_COLUMNS) {
    const columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[];
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

function idConflict(job: NewJob, holder: string): SkqError {
  return new SkqError('ID_CONFLICT', `job id "${job.id}" is taken by queue "${holder}": job ids are unique across the queues of one SQLite file`, {
    context: { jobId: job.id, queue: job.queue, field: 'jobId' },
  });
}
