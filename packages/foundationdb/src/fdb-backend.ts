import { randomUUID } from 'node:crypto';
import {
  type GroupLimits,
  type GroupPage,
  type JobEventType,
  type JobRecord,
  type LogLine,
  type ScheduleRecord,
  type RouteLimits,
  type StateCounts,
  type WorkerInfo,
} from '@skq/core';
import {
  RetentionSchedule,
  minuteOf,
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
import { appendLogsInBatches, enqueueInBatches } from './batched-writes.js';
import { EventSubscriptions } from './event-subscriptions.js';
import { resolveFdbOptions, type FdbOptions } from './fdb-options.js';
import { openFoundationDb } from './kv/foundationdb-binding.js';
import type { KvDatabase } from './kv/port.js';
import type { ClaimShare } from './queue/claim-start.js';
import { claimDeliveries, claimShare, replayClaim } from './queue/claim-transactions.js';
import { completeDelivery, failDelivery } from './queue/ending-transactions.js';
import { listGroups, readLimits, setLimits, sweepGroups } from './queue/group-transactions.js';
import { cancelJob, removeJobs, rescheduleJob, retryJob } from './queue/job-control-transactions.js';
import { checkListPosition, getJob, listJobs } from './queue/job-read-transactions.js';
import { extendLeases, failOrphaned, recoverDeliveries, storeProgress } from './queue/lease-transactions.js';
import * as state from './queue/queue-state-transactions.js';
import { MAX_VALUE_BYTES, decode, encode } from './queue/records.js';
import { ScheduleOperations } from './schedule-operations.js';
import { TransactionRunner } from './transaction-runner.js';

/**
 * The FoundationDB backend, written against a narrow port of FDB's client API (see `kv/port.ts`).
 * Every operation is one transaction on one queue's key range; see `queue/keys.ts` for the layout.
 * Transactions are idempotent under `commit_unknown_result`: enqueue by job id, complete and fail by
 * the lease's attempt, and the rest by a marker written with their result.
 *
 * @example
 * ```ts
 * const backend = await FdbBackend.connect('fdb:/etc/foundationdb/fdb.cluster?prefix=jobs');
 * const queue = new SkunkQueue('emails', { backend });
 * ```
 */
export class FdbBackend implements StorageBackend, GroupStorage {
  readonly kind = 'foundationdb';
  readonly capabilities: StorageCapabilities;
  private readonly runner: TransactionRunner;
  private readonly subscriptions: EventSubscriptions;
  private readonly schedules: ScheduleOperations;
  private readonly retention = new RetentionSchedule();
  /** The places taken by this process's claims in flight, per queue and route. */
  private readonly claiming = new Map<string, Set<number>>();

  private constructor(db: KvDatabase, prefix: string) {
    this.capabilities = { crossProcess: db.crossProcess, pushEvents: true, batchClaim: true, durable: db.kind === 'foundationdb', maxValueBytes: MAX_VALUE_BYTES, groups: true };
    this.runner = new TransactionRunner(db, prefix);
    this.subscriptions = new EventSubscriptions(this.runner);
    this.schedules = new ScheduleOperations(this.runner);
  }

  /**
   * Opens a real cluster through the `foundationdb` binding: `fdb:` (the default cluster file) or
   * `fdb:/path/to/fdb.cluster?prefix=…`. Fails with `CONFIG_INVALID` naming what to install when the
   * binding or FoundationDB's client library is missing.
   */
  static async connect(input: FdbOptions | string): Promise<FdbBackend> {
    const options = resolveFdbOptions(input);
    const db = await openFoundationDb({ clusterFile: options.clusterFile, apiVersion: options.apiVersion });
    return new FdbBackend(db, options.prefix);
  }

  /**
   * A backend on any implementation of the port, such as the simulator (`@skq/foundationdb/simulator`).
   *
   * @example
   * ```ts
   * const backend = FdbBackend.onDatabase(new SimulatedCluster().open());
   * ```
   */
  static onDatabase(db: KvDatabase, options: { prefix?: string } = {}): FdbBackend {
    return new FdbBackend(db, resolveFdbOptions({ ...(options.prefix && { prefix: options.prefix }) }).prefix);
  }

  /**
   * All or nothing. What FDB would refuse is refused before the first write: every job's size is
   * checked, and batches are cut by bytes as well as count. A later transaction that fails for
   * another reason (a timeout, the retry limit, a closed backend) takes out the jobs the earlier
   * ones created, by id (never one that was there before the call, nor one a dedupe key matched),
   * before its error is thrown.
   */
  enqueue(input: NewJob[]): Promise<EnqueueResult[]> {
    return enqueueInBatches(this.runner, input, this.capabilities.maxValueBytes);
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const { queue, route } = request;
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    // This claim's place among the process's claims in flight on the route: claims by turns spread by it.
    const routeKey = `${queue}\u0000${route}`;
    const inFlight = this.claiming.get(routeKey) ?? new Set<number>();
    this.claiming.set(routeKey, inFlight);
    let index = 0;
    while (inFlight.has(index)) index += 1;
    inFlight.add(index);
    try {
      return await this.claimOnce(request, nonce, minute, () => ({ index, of: Math.max(inFlight.size, index + 1) }));
    } finally {
      inFlight.delete(index);
      if (inFlight.size === 0) this.claiming.delete(routeKey);
    }
  }

  private claimOnce(request: ClaimRequest, nonce: string, minute: number, local: () => ClaimShare): Promise<ClaimResult> {
    const { queue, route, workerId } = request;
    return this.runner.transact('claim', queue, async (tr) => {
      // The read version first, then the clock: rate windows run on versions, and the starts' times
      // (`now`) are then read right after the versions they were judged by.
      await tr.getReadVersion();
      const qt = this.runner.qt(tr, queue, request.now);
      const marker = qt.keys.key('tx', minute, nonce);
      const replay = await tr.get(marker);
      if (replay) return replayClaim(qt, decode<string[]>(replay));
      const result = await claimDeliveries(qt, request, claimShare(qt, route, workerId), local());
      qt.flushEvents();
      if (result.deliveries.length) tr.set(marker, encode(result.deliveries.map((d) => d.id)));
      return result;
    });
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    await this.runner.transact('complete', queue, async (tr) => {
      const qt = this.runner.qt(tr, queue);
      await completeDelivery(qt, lease, result, this.retention, nonce, qt.keys.key('tx', minute, nonce));
      qt.flushEvents();
    });
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    return this.runner.transact('fail', queue, async (tr) => {
      const qt = this.runner.qt(tr, queue);
      const outcome = await failDelivery(qt, lease, request, this.retention, nonce, qt.keys.key('tx', minute, nonce));
      qt.flushEvents();
      return outcome;
    });
  }

  async extendLease(queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.runner.transact('extendLease', queue, (tr) => extendLeases(this.runner.qt(tr, queue), leases, leaseMs));
  }

  async recoverExpired(queue: string, now?: number): Promise<number> {
    const aheadMs = now === undefined ? 0 : now - Date.now();
    return this.runner.marked('recoverExpired', queue, async (qt) => {
      await state.sweep(qt);
      await sweepGroups(qt);
      const recovered = await recoverDeliveries(qt, aheadMs, this.retention);
      const live = new Set((await state.liveWorkers(qt)).map((w) => w.id));
      return recovered + (await failOrphaned(qt, live, this.retention));
    });
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.runner.marked('cancel', queue, (qt) => cancelJob(qt, jobId, this.retention));
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.runner.marked('reschedule', queue, (qt) => rescheduleJob(qt, jobId, runAt));
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.runner.transact('getJob', queue, (tr) => getJob(this.runner.qt(tr, queue), jobId));
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    checkListPosition(query);
    return this.runner.transact('listJobs', query.queue, (tr) => listJobs(this.runner.qt(tr, query.queue), query));
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    // What the first run of the transaction found ended: a rerun after a conflict retries only those endings.
    const seen = new Map<string, number>();
    return this.runner.marked('retryJob', queue, (qt) => retryJob(qt, jobId, request, seen));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return this.runner.marked('removeJobs', queue, (qt) => removeJobs(qt, jobIds));
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.runner.marked('setProgress', queue, (qt) => storeProgress(qt, lease, progress));
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.runner.marked('setPaused', queue, (qt) => state.setPaused(qt, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.runner.transact('pausedRoutes', queue, (tr) => state.pausedRoutes(this.runner.qt(tr, queue)));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.runner.transact('throughput', queue, (tr) => state.throughput(this.runner.qt(tr, queue), since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.runner.marked('appendCallRecord', queue, (qt) => state.appendCallRecord(qt, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.runner.transact('listCallRecords', queue, (tr) => state.listCallRecords(this.runner.qt(tr, queue), query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.runner.transact('countByState', queue, (tr) => state.countByState(this.runner.qt(tr, queue)));
  }

  async listQueues(): Promise<string[]> {
    return this.runner.listQueues();
  }

  /**
   * Lines cut to fit a value (core's rule), written in order in transactions of bounded size. A
   * transaction that fails after earlier ones committed throws with `context.linesStored`: how many
   * lines, from the first, are stored, so the caller writes only the rest again.
   */
  async appendLogs(queue: string, lines: LogLine[]): Promise<void> {
    await appendLogsInBatches(this.runner, queue, lines);
  }

  async getLogs(queue: string, jobId: string): Promise<LogLine[]> {
    return this.runner.transact('getLogs', queue, (tr) => state.getLogs(this.runner.qt(tr, queue), jobId));
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.runner.transact('registerWorker', info.queue, async (tr) => {
      this.runner.addToDirectory(tr, info.queue);
      await state.registerWorker(this.runner.qt(tr, info.queue), info, ttlMs);
    });
    this.runner.listedAfterCommit([info.queue]);
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.runner.transact('heartbeat', queue, (tr) => state.heartbeat(this.runner.qt(tr, queue), workerId, ttlMs, status));
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.runner.marked('sendWorkerCommand', queue, (qt) => state.sendWorkerCommand(qt, workerId, command));
  }

  async unregisterWorker(queue: string, workerId: string): Promise<void> {
    await this.runner.transact('unregisterWorker', queue, (tr) => state.unregisterWorker(this.runner.qt(tr, queue), workerId));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.runner.transact('listWorkers', queue, (tr) => state.liveWorkers(this.runner.qt(tr, queue)));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEventType[]): Promise<() => Promise<void>> {
    return this.subscriptions.subscribe(queue, listener, types);
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.schedules.save(queue, definition);
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.schedules.list(queue);
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.schedules.setPaused(queue, id, paused);
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.schedules.remove(queue, id);
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.schedules.fire(queue, id, version, firing);
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.schedules.advance(queue, id, version, next);
  }

  /** Limits are stored as given, and read by the claims that start after the change. */
  async setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void> {
    await this.runner.transact('setGroupLimits', queue, async (tr) => setLimits(this.runner.qt(tr, queue), 'g', group, limits));
  }

  async getGroupLimits(queue: string, group: string): Promise<GroupLimits | null> {
    return this.runner.transact('getGroupLimits', queue, (tr) => readLimits<GroupLimits>(this.runner.qt(tr, queue), 'g', group));
  }

  async setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void> {
    await this.runner.transact('setRouteLimits', queue, async (tr) => setLimits(this.runner.qt(tr, queue), 'r', route, limits));
  }

  async getRouteLimits(queue: string, route: string): Promise<RouteLimits | null> {
    return this.runner.transact('getRouteLimits', queue, (tr) => readLimits<RouteLimits>(this.runner.qt(tr, queue), 'r', route));
  }

  async listGroups(query: GroupListQuery): Promise<GroupPage> {
    return this.runner.transact('listGroups', query.queue, (tr) => listGroups(this.runner.qt(tr, query.queue), query));
  }

  async close(): Promise<void> {
    if (this.runner.closed) return;
    this.runner.closed = true;
    await this.subscriptions.stopAll();
    await this.runner.db.close();
  }
}
