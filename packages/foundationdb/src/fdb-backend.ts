import { randomUUID } from 'node:crypto';
import {
  RetentionSchedule,
  SkqError,
  checkJobSizes,
  fitLogLine,
  minuteOf,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimResult,
  type EnqueueResult,
  type FailRequest,
  type JobEventListener,
  type JobEventType,
  type JobRecord,
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
import { closedError, mapFdbError } from './fdb-errors.js';
import { resolveFdbOptions, type FdbOptions } from './fdb-options.js';
import { openFoundationDb } from './kv/foundationdb-binding.js';
import type { KvDatabase, KvTransaction } from './kv/port.js';
import { unpack } from './kv/tuple.js';
import { EventTail } from './queue/event-tail.js';
import * as jobs from './queue/job-transactions.js';
import { QueueKeys, directoryKey, directoryRange } from './queue/keys.js';
import * as state from './queue/queue-state-transactions.js';
import { QueueTransaction, VERSIONS_PER_MS } from './queue/queue-transaction.js';
import { decode, encode, toClaimed, toJobRecord } from './queue/records.js';

/** Jobs per enqueue transaction: FDB limits a transaction to 10 MB and 5 seconds. */
const ENQUEUE_BATCH = 200;
/** Bytes of JSON per enqueue or log transaction, well under FDB's 10 MB: a batch is cut at whichever bound comes first. */
const BATCH_BYTES = 2_000_000;
/** Log lines per transaction: each takes a versionstamp's 16-bit user version. */
const LOG_BATCH = 5_000;
/** How long a claimer counts as active for spreading claims (in cluster versions: 2 s). */
const ACTIVE_CLAIMER_VERSIONS = 2_000 * VERSIONS_PER_MS;

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
export class FdbBackend implements StorageBackend {
  readonly kind = 'foundationdb';
  readonly capabilities: StorageCapabilities;
  private readonly keysByQueue = new Map<string, QueueKeys>();
  private readonly listed = new Set<string>();
  private readonly tails = new Map<string, EventTail>();
  private readonly retention = new RetentionSchedule();
  private seq = 0;
  private closed = false;

  private constructor(
    private readonly db: KvDatabase,
    private readonly prefix: string,
  ) {
    this.capabilities = { crossProcess: db.crossProcess, pushEvents: true, batchClaim: true, durable: db.kind === 'foundationdb', maxValueBytes: jobs.MAX_VALUE_BYTES };
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
  async enqueue(input: NewJob[]): Promise<EnqueueResult[]> {
    checkJobSizes(input, this.capabilities.maxValueBytes);
    const results: EnqueueResult[] = [];
    const created: NewJob[] = [];
    for (const batch of batches(input, ENQUEUE_BATCH, (job) => JSON.stringify(job).length)) {
      const byQueue = [...new Set(batch.map((j) => j.queue))];
      try {
        const stored = await this.transact('enqueue', byQueue[0]!, async (tr) => {
          const out: { result: EnqueueResult; created: boolean }[] = [];
          for (const queue of byQueue) this.addToDirectory(tr, queue);
          const workers = new Map<string, Promise<WorkerInfo[]>>();
          const existed = await Promise.all(batch.map(async (job) => (await this.qt(tr, job.queue).job(job.id, true)) !== null));
          for (const [i, job] of batch.entries()) {
            const qt = this.qt(tr, job.queue);
            const live = () => workers.get(job.queue) ?? (workers.set(job.queue, state.liveWorkers(qt)), workers.get(job.queue)!);
            const result = await jobs.enqueueJob(qt, job, live);
            out.push({ result, created: !existed[i] && !result.deduped });
            qt.flushEvents();
          }
          return out;
        });
        results.push(...stored.map((s) => s.result));
        created.push(...batch.filter((_, i) => stored[i]!.created));
      } catch (err) {
        if (created.length) await this.undoEnqueue(created, err);
        throw err;
      }
    }
    this.listedAfterCommit(input.map((j) => j.queue));
    return results;
  }

  /** Takes out the jobs an enqueue created before one of its transactions failed; what could not be taken out is named on `failure`. */
  private async undoEnqueue(created: NewJob[], failure: unknown): Promise<void> {
    const left: string[] = [];
    const byQueue = new Map<string, string[]>();
    for (const job of created) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job.id]);
    for (const [queue, ids] of byQueue) {
      for (let i = 0; i < ids.length; i += ENQUEUE_BATCH) {
        const chunk = ids.slice(i, i + ENQUEUE_BATCH);
        try {
          const removed = new Set(await this.marked('enqueue (undo)', queue, (qt) => jobs.removeJobs(qt, chunk)));
          left.push(...chunk.filter((id) => !removed.has(id)));
        } catch {
          left.push(...chunk);
        }
      }
    }
    // A job a worker claimed meanwhile stays, and so does a batch the store refused to take out: the caller is told which.
    if (left.length && failure instanceof SkqError) Object.assign(failure.context, { storedJobIds: left });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const { queue, route, workerId } = request;
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    return this.transact('claim', queue, async (tr) => {
      const qt = this.qt(tr, queue, request.now);
      const marker = qt.keys.key('tx', minute, nonce);
      const replay = await tr.get(marker);
      if (replay) return this.replayClaim(qt, decode<string[]>(replay));
      const share = await this.claimShare(qt, route, workerId);
      const result = await jobs.claimDeliveries(qt, request, share);
      qt.flushEvents();
      if (result.deliveries.length) tr.set(marker, encode(result.deliveries.map((d) => d.id)));
      return result;
    });
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    await this.transact('complete', queue, async (tr) => {
      const qt = this.qt(tr, queue);
      await jobs.completeDelivery(qt, lease, result, this.retention, nonce, qt.keys.key('tx', minute, nonce));
      qt.flushEvents();
    });
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    return this.transact('fail', queue, async (tr) => {
      const qt = this.qt(tr, queue);
      const outcome = await jobs.failDelivery(qt, lease, request, this.retention, nonce, qt.keys.key('tx', minute, nonce));
      qt.flushEvents();
      return outcome;
    });
  }

  async extendLease(queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.transact('extendLease', queue, (tr) => jobs.extendLeases(this.qt(tr, queue), leases, leaseMs));
  }

  async recoverExpired(queue: string, now?: number): Promise<number> {
    const aheadMs = now === undefined ? 0 : now - Date.now();
    return this.marked('recoverExpired', queue, async (qt) => {
      await state.sweep(qt);
      const recovered = await jobs.recoverDeliveries(qt, aheadMs, this.retention);
      const live = new Set((await state.liveWorkers(qt)).map((w) => w.id));
      return recovered + (await jobs.failOrphaned(qt, live, this.retention));
    });
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.marked('cancel', queue, (qt) => jobs.cancelJob(qt, jobId, this.retention));
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.marked('reschedule', queue, (qt) => jobs.rescheduleJob(qt, jobId, runAt));
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.transact('getJob', queue, async (tr) => {
      const qt = this.qt(tr, queue);
      const found = await jobs.readJob(qt, jobId);
      return found ? toJobRecord(queue, found.job, found.deliveries, qt.now) : null;
    });
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    // The position becomes part of a key: one the tuple encoder cannot pack (a forged cursor's 1.5) is the caller's error.
    const after = query.after;
    if (after != null && !(typeof after === 'object' && Number.isSafeInteger(after.createdAt) && typeof after.id === 'string')) {
      throw new SkqError('ARGS_INVALID', 'listJobs: after is not a position a listing returned: { createdAt: whole ms, id: string }', { context: { queue: query.queue, field: 'after' } });
    }
    return this.transact('listJobs', query.queue, async (tr) => {
      const qt = this.qt(tr, query.queue);
      const [begin, end] = qt.keys.range('list');
      const upTo = query.after ? qt.keys.key('list', query.after.createdAt, query.after.id) : end;
      const rows = await tr.snapshot.getRange(begin, upTo, { limit: query.limit, reverse: true });
      const found = await Promise.all(rows.map(([key]) => jobs.readJob(qt, unpack(key).slice(-1)[0] as string)));
      return found.filter((f) => f !== null).map((f) => toJobRecord(query.queue, f.job, f.deliveries, qt.now));
    });
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    // What the first run of the transaction found ended: a rerun after a conflict retries only those endings.
    const seen = new Map<string, number>();
    return this.marked('retryJob', queue, (qt) => jobs.retryJob(qt, jobId, request, seen));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return this.marked('removeJobs', queue, (qt) => jobs.removeJobs(qt, jobIds));
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.marked('setProgress', queue, (qt) => jobs.storeProgress(qt, lease, progress));
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.marked('setPaused', queue, (qt) => state.setPaused(qt, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.transact('pausedRoutes', queue, (tr) => state.pausedRoutes(this.qt(tr, queue)));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.transact('throughput', queue, (tr) => state.throughput(this.qt(tr, queue), since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.marked('appendCallRecord', queue, (qt) => state.appendCallRecord(qt, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.transact('listCallRecords', queue, (tr) => state.listCallRecords(this.qt(tr, queue), query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.transact('countByState', queue, (tr) => state.countByState(this.qt(tr, queue)));
  }

  async listQueues(): Promise<string[]> {
    return this.transact('listQueues', '', async (tr) => {
      const rows = await tr.snapshot.getRange(...directoryRange(this.prefix));
      return rows.map(([key]) => unpack(key).slice(-1)[0] as string).sort();
    });
  }

  /**
   * Lines cut to fit a value (core's rule), written in order in transactions of bounded size. A
   * transaction that fails after earlier ones committed throws with `context.linesStored`: how many
   * lines, from the first, are stored, so the caller writes only the rest again.
   */
  async appendLogs(queue: string, lines: LogLine[]): Promise<void> {
    const fitted = lines.map((line) => fitLogLine(line, jobs.MAX_VALUE_BYTES));
    let stored = 0;
    for (const batch of batches(fitted, LOG_BATCH, (line) => Buffer.byteLength(line.line))) {
      try {
        await this.marked('appendLogs', queue, async (qt) => state.appendLogs(qt, batch));
      } catch (err) {
        if (stored > 0 && err instanceof SkqError) Object.assign(err.context, { linesStored: stored });
        throw err;
      }
      stored += batch.length;
    }
  }

  async getLogs(queue: string, jobId: string): Promise<LogLine[]> {
    return this.transact('getLogs', queue, (tr) => state.getLogs(this.qt(tr, queue), jobId));
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.transact('registerWorker', info.queue, async (tr) => {
      this.addToDirectory(tr, info.queue);
      await state.registerWorker(this.qt(tr, info.queue), info, ttlMs);
    });
    this.listedAfterCommit([info.queue]);
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.transact('heartbeat', queue, (tr) => state.heartbeat(this.qt(tr, queue), workerId, ttlMs, status));
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.marked('sendWorkerCommand', queue, (qt) => state.sendWorkerCommand(qt, workerId, command));
  }

  async unregisterWorker(queue: string, workerId: string): Promise<void> {
    await this.transact('unregisterWorker', queue, async (tr) => {
      const qt = this.qt(tr, queue);
      const raw = await tr.get(qt.keys.key('w', workerId));
      tr.clear(qt.keys.key('w', workerId));
      for (const route of raw ? decode<WorkerInfo>(raw).routes : []) tr.clear(qt.keys.key('cl', route, workerId));
    });
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.transact('listWorkers', queue, (tr) => state.liveWorkers(this.qt(tr, queue)));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEventType[]): Promise<() => Promise<void>> {
    if (this.closed) throw closedError('subscribe', queue);
    let tail = this.tails.get(queue);
    if (!tail) {
      tail = new EventTail(this.db, this.keys(queue), () => (this.seq += 1), () => {});
      this.tails.set(queue, tail);
    }
    const remove = await tail.add(listener, types);
    return async () => {
      remove();
      if (tail.size === 0 && this.tails.get(queue) === tail) {
        this.tails.delete(queue);
        await tail.stop();
      }
    };
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    const saved = await this.marked('saveSchedule', queue, (qt) => {
      this.addToDirectory(qt.tr, queue);
      return state.saveSchedule(qt, definition);
    });
    this.listedAfterCommit([queue]);
    return saved;
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.transact('listSchedules', queue, (tr) => state.listSchedules(this.qt(tr, queue)));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.marked('setSchedulePaused', queue, (qt) => state.setSchedulePaused(qt, id, paused));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.marked('removeSchedule', queue, (qt) => state.removeSchedule(qt, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.marked('fireSchedule', queue, (qt) =>
      state.fireSchedule(qt, id, version, firing, (job) => jobs.enqueueJob(qt, job, () => state.liveWorkers(qt))),
    );
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.marked('advanceSchedule', queue, (qt) => state.advanceSchedule(qt, id, version, next));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.tails.values()].map((t) => t.stop()));
    this.tails.clear();
    await this.db.close();
  }

  /** Runs one transaction through the port's retry loop, mapping what it throws. */
  private async transact<T>(operation: string, queue: string, body: (tr: KvTransaction) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(operation, queue);
    try {
      return await this.db.transact(body);
    } catch (err) {
      throw mapFdbError(err, operation, { queue });
    }
  }

  /**
   * A transaction made idempotent by a marker: its result is stored under a nonce in the same
   * commit, so a retry after commit_unknown_result finds the marker and returns that result
   * instead of running again. Markers are swept after ten minutes.
   */
  private async marked<T>(operation: string, queue: string, body: (qt: QueueTransaction) => Promise<T>): Promise<T> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    return this.transact(operation, queue, async (tr) => {
      const qt = this.qt(tr, queue);
      const marker = qt.keys.key('tx', minute, nonce);
      const done = await tr.get(marker);
      if (done) return decode<{ result: T }>(done).result;
      const result = await body(qt);
      qt.flushEvents();
      tr.set(marker, encode({ result: result ?? null }));
      return result;
    });
  }

  private qt(tr: KvTransaction, queue: string, now?: number): QueueTransaction {
    return new QueueTransaction(tr, this.keys(queue), now ?? Date.now());
  }

  private keys(queue: string): QueueKeys {
    let keys = this.keysByQueue.get(queue);
    if (!keys) this.keysByQueue.set(queue, (keys = new QueueKeys(this.prefix, queue)));
    return keys;
  }

  /** Names a queue in the directory, once per process (a blind write: it conflicts with nothing). */
  private addToDirectory(tr: KvTransaction, queue: string): void {
    if (!this.listed.has(queue)) tr.set(directoryKey(this.prefix, queue), Buffer.alloc(0));
  }

  private listedAfterCommit(queues: string[]): void {
    for (const queue of queues) this.listed.add(queue);
  }

  /**
   * Which of the route's claimers this one is, by worker id: the live workers registered on the
   * route (liveness is the registration's expiry version, never a clock), and claimers that are not
   * registered but claimed in the last 2 s of cluster versions. An unregistered claimer leaves its
   * presence with a blind write (no conflict) at most once a second. Both are snapshot reads.
   */
  private async claimShare(qt: QueueTransaction, route: string, workerId: string): Promise<jobs.ClaimShare> {
    const version = await qt.version();
    const active = new Set<string>([workerId]);
    let registered = false;
    for (const w of await state.liveWorkers(qt)) {
      if (!w.routes.includes(route)) continue;
      active.add(w.id);
      if (w.id === workerId) registered = true;
    }
    let seen = -Infinity;
    for (const [key, value] of await qt.tr.snapshot.getRange(...qt.keys.range('cl', route))) {
      const at = Number(value.readBigInt64BE(0));
      const id = unpack(key).slice(-1)[0] as string;
      if (id === workerId) seen = at;
      else if (version - at < ACTIVE_CLAIMER_VERSIONS) active.add(id);
    }
    if (!registered && version - seen > ACTIVE_CLAIMER_VERSIONS / 2) {
      const stamp = Buffer.alloc(8);
      stamp.writeBigInt64BE(BigInt(version));
      qt.tr.set(qt.keys.key('cl', route, workerId), stamp);
    }
    const sorted = [...active].sort();
    return { index: sorted.indexOf(workerId), of: sorted.length };
  }

  private async replayClaim(qt: QueueTransaction, ids: string[]): Promise<ClaimResult> {
    const deliveries = [];
    for (const id of ids) {
      const d = await qt.delivery(id, true);
      const job = d ? await qt.job(d.jobId, true) : null;
      if (d && job) deliveries.push(toClaimed(qt.queue, d, job, qt.now));
    }
    return { deliveries, nextRunAt: null };
  }
}

/** `items` in order, in batches of at most `count` items and about {@link BATCH_BYTES} (an item larger than that goes alone). */
function batches<T>(items: T[], count: number, size: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (current.length && (current.length >= count || bytes + n > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length) out.push(current);
  return out;
}
