import { Cluster, Redis } from 'ioredis';
import {
  JOB_EVENT_TYPES,
  MAX_LEASE_RECOVERIES,
  SkqError,
  expiredLeaseErrorOf,
  jobIdOfDelivery,
  leaseLost,
  requestedFailureOutcome,
  scheduleFingerprint,
  workerGoneError,
  zeroStateCounts,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
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
  type ScheduleSaveOutcome,
  type StateCounts,
  type StorageBackend,
  type StorageCapabilities,
  type RetentionRule,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerInfo,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core';
import { EventChannel } from './event-channel.js';
import { queueKeys, type QueueKeys } from './keys.js';
import { decodeClaim, encodeRunOptions, toDelivery, toJobRecord, toScheduleRecord, toWorker } from './records.js';
import { mapRedisError } from './redis-errors.js';
import { resolveRedisOptions, retentionArgs, type ParsedRedisOptions, type RedisOptions } from './redis-options.js';
import { Script } from './script-runner.js';
import { CLAIM_LUA } from './scripts/claim.js';
import { ENQUEUE_LUA } from './scripts/enqueue.js';
import { COMPLETE_AND_CLAIM_LUA, COMPLETE_LUA, FAIL_LUA } from './scripts/finish.js';
import { CANCEL_LUA, RESCHEDULE_LUA } from './scripts/job-control.js';
import { EXTEND_LEASE_LUA, RECOVER_LUA } from './scripts/lease.js';
import { HEARTBEAT_LUA, LIVE_WORKERS_LUA, REGISTER_WORKER_LUA, SEND_COMMAND_LUA } from './scripts/workers.js';
import { LIST_JOBS_LUA, REMOVE_JOBS_LUA, RETRY_JOB_LUA, SET_PAUSED_LUA, SET_PROGRESS_LUA } from './scripts/operations.js';
import { appendCallRecord, listCallRecords, readThroughput } from './redis-operations.js';
import { ADVANCE_SCHEDULE_LUA, FIRE_SCHEDULE_LUA, PAUSE_SCHEDULE_LUA, SAVE_SCHEDULE_LUA } from './scripts/schedules.js';

/** Core's WORKER_GONE error with placeholders, which recover-expired fills in for each delivery it fails. */
const WORKER_GONE_TEMPLATE = JSON.stringify(workerGoneError({ id: '@@ID@@', targetWorker: '@@WORKER@@' }));

/** Core's LEASE_LOST error of an expired lease with placeholders, which recover-expired fills in for each delivery it ends. */
function expiredLeaseTemplate(outcome: 'cancelled' | 'failed'): string {
  return JSON.stringify(expiredLeaseErrorOf('@@ID@@', '@@WORKER@@', '@@TIMES@@', outcome));
}
const EXPIRED_LEASE_TEMPLATES = [expiredLeaseTemplate('cancelled'), expiredLeaseTemplate('failed')];

const SCRIPTS = {
  enqueue: new Script('enqueue', ENQUEUE_LUA),
  claim: new Script('claim', CLAIM_LUA),
  complete: new Script('complete', COMPLETE_LUA),
  completeAndClaim: new Script('complete-and-claim', COMPLETE_AND_CLAIM_LUA),
  fail: new Script('fail', FAIL_LUA),
  extendLease: new Script('extend-lease', EXTEND_LEASE_LUA),
  recover: new Script('recover-expired', RECOVER_LUA),
  cancel: new Script('cancel', CANCEL_LUA),
  reschedule: new Script('reschedule', RESCHEDULE_LUA),
  registerWorker: new Script('register-worker', REGISTER_WORKER_LUA),
  heartbeat: new Script('heartbeat', HEARTBEAT_LUA),
  liveWorkers: new Script('live-workers', LIVE_WORKERS_LUA),
  saveSchedule: new Script('save-schedule', SAVE_SCHEDULE_LUA),
  fireSchedule: new Script('fire-schedule', FIRE_SCHEDULE_LUA),
  advanceSchedule: new Script('advance-schedule', ADVANCE_SCHEDULE_LUA),
  pauseSchedule: new Script('pause-schedule', PAUSE_SCHEDULE_LUA),
  sendCommand: new Script('send-command', SEND_COMMAND_LUA),
  listJobs: new Script('list-jobs', LIST_JOBS_LUA),
  removeJobs: new Script('remove-jobs', REMOVE_JOBS_LUA),
  retryJob: new Script('retry-job', RETRY_JOB_LUA),
  setPaused: new Script('set-paused', SET_PAUSED_LUA),
  setProgress: new Script('set-progress', SET_PROGRESS_LUA),
};

interface PendingCompletion {
  lease: LeaseToken;
  result: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface PendingClaim {
  route: string;
  limit: number;
  leaseMs: number;
  resolve: (result: ClaimResult) => void;
  reject: (err: unknown) => void;
}

interface WorkerBatch {
  queue: string;
  workerId: string;
  completions: PendingCompletion[];
  claims: PendingClaim[];
}

/**
 * The Redis backend. Every step that touches more than one key is one Lua script; all keys of a
 * queue share a hash tag, so a queue lives in one cluster slot. A worker's completions and its next
 * claim made in the same tick go to Redis as one script call; claims take several jobs per call.
 *
 * @example
 * ```ts
 * const backend = await RedisBackend.connect('redis://127.0.0.1:6379?removeOnComplete=1000');
 * const queue = new SkunkQueue('emails', { backend });
 * ```
 */
export class RedisBackend implements StorageBackend {
  readonly kind = 'redis';
  readonly capabilities: StorageCapabilities = { crossProcess: true, pushEvents: true, batchClaim: true, durable: true };
  private readonly keysByQueue = new Map<string, QueueKeys>();
  private readonly retention: string[];
  private events: EventChannel | null = null;
  private subscriber: Redis | Cluster | null = null;
  private readonly batches = new Map<string, WorkerBatch>();
  /** Queues this process has added to the directory set, so each costs one SADD per process. */
  private readonly listedQueues = new Set<string>();
  private flushScheduled = false;
  private closed = false;

  private constructor(
    private readonly client: Redis | Cluster,
    private readonly options: ParsedRedisOptions,
  ) {
    this.retention = [...retentionArgs(options.removeOnComplete), ...retentionArgs(options.removeOnFail)].map(String);
  }

  /** Connects, failing with `BACKEND_UNAVAILABLE` if Redis does not answer within `connectTimeoutMs`. */
  static async connect(input: RedisOptions | string): Promise<RedisBackend> {
    const options = resolveRedisOptions(input);
    const client = createClient(options);
    client.on('error', () => undefined); // Reconnection is automatic; calls made meanwhile fail with BACKEND_UNAVAILABLE.
    await waitReady(client, options.connectTimeoutMs, 'connect');
    return new RedisBackend(client, options);
  }

  /** The underlying client, for diagnostics such as `INFO memory`. */
  get redis(): Redis | Cluster {
    return this.client;
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    const byQueue = new Map<string, NewJob[]>();
    for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    const results = new Map<string, EnqueueResult>();
    for (const [queue, batch] of byQueue) {
      if (!this.listedQueues.has(queue)) await this.addToDirectory(queue);
      const args = batch.flatMap(enqueueArgs);
      const out = (await this.run('enqueue', queue, SCRIPTS.enqueue, this.keys(queue).seq, args)) as (string | number)[];
      batch.forEach((job, i) => results.set(job.id, { id: String(out[i * 3]), deduped: Number(out[i * 3 + 1]) === 1, deliveries: Number(out[i * 3 + 2]) }));
    }
    return jobs.map((job) => results.get(job.id)!);
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    const { queue, route, workerId } = request;
    if (request.now !== undefined) {
      const args = [route, workerId, request.leaseMs, request.limit];
      return this.run('claim', queue, SCRIPTS.claim, this.keys(queue).ready(route), args, request.now).then((raw) => this.settleClaim(queue, route, workerId, raw));
    }
    // Batched with the same worker's completions: one round trip when a worker finishes jobs and wants more.
    return new Promise((resolve, reject) => this.batchFor(queue, workerId).claims.push({ route, limit: request.limit, leaseMs: request.leaseMs, resolve, reject }));
  }

  complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    return new Promise((resolve, reject) => this.batchFor(queue, lease.workerId).completions.push({ lease, result: JSON.stringify(result ?? null), resolve, reject }));
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    const retryAt = request.retryAt == null ? '' : Math.round(request.retryAt);
    const args = [lease.workerId, lease.deliveryId, JSON.stringify(request.error), retryAt, requestedFailureOutcome(request), lease.attempt];
    const status = String(await this.run('fail', queue, SCRIPTS.fail, this.keys(queue).active, args));
    if (status === 'retrying' || status === 'failed' || status === 'cancelled') return status;
    throw leaseError(status, queue, lease);
  }

  /** A claim's deliveries; one whose stored job cannot be read fails now, so it never blocks the route. */
  private async settleClaim(queue: string, route: string, workerId: string, raw: unknown): Promise<ClaimResult> {
    const { result, unreadable } = decodeClaim(queue, route, workerId, raw);
    for (const { lease, error } of unreadable) await this.fail(queue, lease, { error, retryAt: null, cancelled: false });
    return result;
  }

  async extendLease(queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    const byWorker = new Map<string, LeaseToken[]>();
    for (const lease of leases) byWorker.set(lease.workerId, [...(byWorker.get(lease.workerId) ?? []), lease]);
    const held: LeaseToken[] = [];
    for (const [workerId, mine] of byWorker) {
      const args = [workerId, leaseMs, ...mine.flatMap((l) => [l.deliveryId, l.attempt])];
      const ids = new Set((await this.run('extendLease', queue, SCRIPTS.extendLease, this.keys(queue).active, args)) as string[]);
      held.push(...mine.filter((l) => ids.has(l.deliveryId)));
    }
    return held;
  }

  async recoverExpired(queue: string, now?: number): Promise<number> {
    return Number(await this.run('recoverExpired', queue, SCRIPTS.recover, this.keys(queue).active, [MAX_LEASE_RECOVERIES, WORKER_GONE_TEMPLATE, ...EXPIRED_LEASE_TEMPLATES], now));
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return Number(await this.run('cancel', queue, SCRIPTS.cancel, this.keys(queue).jobs, [jobId])) === 1;
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return Number(await this.run('reschedule', queue, SCRIPTS.reschedule, this.keys(queue).jobs, [jobId, Math.round(runAt)])) > 0;
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.call('getJob', queue, async () => (await this.readJobs(queue, [jobId]))[0] ?? null);
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    const args = [query.limit, query.after ? Math.round(query.after.createdAt) : '', query.after?.id ?? ''];
    const ids = (await this.run('listJobs', query.queue, SCRIPTS.listJobs, this.keys(query.queue).jobs, args)) as string[];
    return this.call('listJobs', query.queue, () => this.readJobs(query.queue, ids));
  }

  /** Jobs with their deliveries in two pipelined round trips (the keys share the queue's slot), skipping any gone. */
  private async readJobs(queue: string, jobIds: string[]): Promise<JobRecord[]> {
    if (jobIds.length === 0) return [];
    const keys = this.keys(queue);
    const jobs = (await pipelined(this.client, jobIds.map((id) => ['hgetall', keys.job(id)]))) as Record<string, string>[];
    // Delivery 0 lives in the job's own hash; a job's further deliveries are read together.
    const extra = jobIds.flatMap((id, j) => Array.from({ length: Math.max(0, Number(jobs[j]!.nd ?? 0) - 1) }, (_, i) => `${id}.${i + 1}`));
    const hashes = (await pipelined(this.client, extra.map((id) => ['hgetall', keys.delivery(id)]))) as Record<string, string>[];
    const byId = new Map(extra.map((id, i) => [id, hashes[i]!]));
    const now = Date.now();
    const records: JobRecord[] = [];
    jobIds.forEach((id, j) => {
      const job = jobs[j]!;
      if (!job.name) return;
      const deliveries = Array.from({ length: Number(job.nd ?? 0) }, (_, i) => toDelivery(queue, `${id}.${i}`, i === 0 ? job : (byId.get(`${id}.${i}`) ?? {}), now));
      records.push(toJobRecord(queue, id, job, deliveries));
    });
    return records;
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return Number(await this.run('retryJob', queue, SCRIPTS.retryJob, this.keys(queue).jobs, [jobId, Math.round(request.runAt), request.attempts]));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    return (await this.run('removeJobs', queue, SCRIPTS.removeJobs, this.keys(queue).jobs, jobIds)) as string[];
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    const args = [lease.workerId, lease.deliveryId, lease.attempt, JSON.stringify(progress ?? null)];
    const status = String(await this.run('setProgress', queue, SCRIPTS.setProgress, this.keys(queue).active, args));
    if (status !== 'ok') throw leaseError(status, queue, lease);
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return Number(await this.run('setPaused', queue, SCRIPTS.setPaused, this.keys(queue).paused, [route, paused ? '1' : '0'])) === 1;
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return (await this.call('pausedRoutes', queue, () => this.client.smembers(this.keys(queue).paused))).sort();
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.call('throughput', queue, () => readThroughput(this.client, this.keys(queue), since, Date.now()));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.call('appendCallRecord', queue, () => appendCallRecord(this.client, this.keys(queue), record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.call('listCallRecords', queue, () => listCallRecords(this.client, this.keys(queue), query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.call('countByState', queue, async () => {
      const keys = this.keys(queue);
      const raw = await this.client.hgetall(keys.counts);
      const counts: StateCounts = {};
      for (const [field, value] of Object.entries(raw)) {
        const [route, state] = field.split('|') as [string, JobState];
        counts[route] ??= zeroStateCounts();
        counts[route]![state] += Number(value);
      }
      const now = Date.now();
      await Promise.all(
        Object.keys(counts).map(async (route) => {
          const later = await this.client.zcount(keys.delayed(route), `(${now}`, '+inf');
          counts[route]!.scheduled = later;
          counts[route]!.queued -= later;
        }),
      );
      return counts;
    });
  }

  async appendLogs(queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    const keys = this.keys(queue);
    const byJob = new Map<string, string[]>();
    for (const line of lines) {
      const jobId = jobIdOfDelivery(line.deliveryId);
      byJob.set(jobId, [...(byJob.get(jobId) ?? []), JSON.stringify(line)]);
    }
    await this.call('appendLogs', queue, () => Promise.all([...byJob].map(([jobId, entries]) => this.client.rpush(keys.logs(jobId), ...entries))));
  }

  async getLogs(queue: string, jobId: string): Promise<LogLine[]> {
    const entries = await this.call('getLogs', queue, () => this.client.lrange(this.keys(queue).logs(jobId), 0, -1));
    return entries.map((entry) => JSON.parse(entry) as LogLine);
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.addToDirectory(info.queue);
    await this.run('registerWorker', info.queue, SCRIPTS.registerWorker, this.keys(info.queue).workers, [info.id, ttlMs, info.routes.join(','), info.hostname, info.pid, info.startedAt]);
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    const args = [workerId, ttlMs, status.state, JSON.stringify(status.runningJobIds), status.obeyedCommandId ?? ''];
    const reply = await this.run('heartbeat', queue, SCRIPTS.heartbeat, this.keys(queue).workers, args);
    return Array.isArray(reply) ? toWorker(queue, workerId, flatHash(reply as string[])) : null;
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    const args = [workerId, JSON.stringify(command), command.id];
    return Number(await this.run('sendWorkerCommand', queue, SCRIPTS.sendCommand, this.keys(queue).workers, args)) === 1;
  }

  async unregisterWorker(queue: string, workerId: string): Promise<void> {
    const keys = this.keys(queue);
    await this.call('unregisterWorker', queue, () => Promise.all([this.client.zrem(keys.workers, workerId), this.client.del(keys.worker(workerId))]));
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    const flat = (await this.run('listWorkers', queue, SCRIPTS.liveWorkers, this.keys(queue).workers, [])) as (string | string[])[];
    const workers: WorkerInfo[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      workers.push(toWorker(queue, flat[i] as string, flatHash(flat[i + 1] as string[])));
    }
    return workers.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
    await this.addToDirectory(queue);
    const args = [definition.id, scheduleFingerprint(definition), definition.state ? JSON.stringify(definition.state) : '', Math.round(definition.nextRunAt)];
    return String(await this.run('saveSchedule', queue, SCRIPTS.saveSchedule, this.keys(queue).schedules, args)) as ScheduleSaveOutcome;
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.call('listSchedules', queue, async () => {
      const keys = this.keys(queue);
      const ids = (await this.client.smembers(keys.schedules)).sort();
      const hashes = await Promise.all(ids.map((id) => this.client.hgetall(keys.schedule(id))));
      return ids.flatMap((id, i) => (hashes[i]!.def ? [toScheduleRecord(queue, id, hashes[i]!)] : []));
    });
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return Number(await this.run('setSchedulePaused', queue, SCRIPTS.pauseSchedule, this.keys(queue).schedules, [id, paused ? '1' : '0'])) === 1;
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    const keys = this.keys(queue);
    const removed = await this.call('removeSchedule', queue, () => this.client.srem(keys.schedules, id));
    await this.call('removeSchedule', queue, () => this.client.del(keys.schedule(id)));
    return removed === 1;
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    const args = [id, version, firing.nextRunAt ?? '', firing.waitingJobId ?? '', Math.round(firing.firedAt), ...enqueueArgs(firing.job)];
    return Number(await this.run('fireSchedule', queue, SCRIPTS.fireSchedule, this.keys(queue).schedules, args)) === 1;
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    const args = [id, version, Math.round(next.nextRunAt), next.state ? JSON.stringify(next.state) : ''];
    return Number(await this.run('advanceSchedule', queue, SCRIPTS.advanceSchedule, this.keys(queue).schedules, args)) === 1;
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    const events = await this.eventChannel();
    try {
      return await events.subscribe(queue, types ?? JOB_EVENT_TYPES, listener);
    } catch (err) {
      throw mapRedisError(err, 'subscribe', { queue });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushScheduled) await this.flushBatches();
    this.closed = true;
    this.events?.close();
    this.subscriber?.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private async eventChannel(): Promise<EventChannel> {
    if (this.events) return this.events;
    const subscriber = this.client.duplicate();
    subscriber.on('error', () => undefined);
    this.subscriber = subscriber;
    this.events = new EventChannel(subscriber, (queue, type) => this.keys(queue).channel(type));
    await waitReady(subscriber, this.options.connectTimeoutMs, 'subscribe');
    return this.events;
  }

  /** The calls one worker makes in this tick; they go to Redis together on the next one. */
  private batchFor(queue: string, workerId: string): WorkerBatch {
    if (this.closed) throw closedError('claim');
    const key = `${queue}\u0000${workerId}`;
    let batch = this.batches.get(key);
    if (!batch) this.batches.set(key, (batch = { queue, workerId, completions: [], claims: [] }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the current burst of promise callbacks: the jobs finishing together go in one call.
      process.nextTick(() => void this.flushBatches());
    }
    return batch;
  }

  private async flushBatches(): Promise<void> {
    this.flushScheduled = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    await Promise.all(batches.map((batch) => this.flushBatch(batch)));
  }

  private async flushBatch({ queue, workerId, completions, claims }: WorkerBatch): Promise<void> {
    const keys = this.keys(queue);
    const pairs = completions.flatMap((item) => [item.lease.deliveryId, item.lease.attempt, item.result]);
    const settleCompletions = (statuses: string[]) =>
      completions.forEach((item, i) => (statuses[i] === 'ok' ? item.resolve() : item.reject(leaseError(statuses[i] ?? 'missing', queue, item.lease))));
    const failAll = (items: { reject: (err: unknown) => void }[], err: unknown) => items.forEach((item) => item.reject(err));
    let rest = claims;
    if (completions.length > 0 && claims.length > 0) {
      const [first] = claims;
      rest = claims.slice(1);
      try {
        const [statuses, raw] = (await this.run('completeAndClaim', queue, SCRIPTS.completeAndClaim, keys.ready(first!.route), [workerId, first!.route, first!.leaseMs, first!.limit, ...pairs])) as [string[], unknown];
        settleCompletions(statuses);
        first!.resolve(await this.settleClaim(queue, first!.route, workerId, raw));
      } catch (err) {
        failAll([...completions, first!], err);
      }
    } else if (completions.length > 0) {
      try {
        settleCompletions((await this.run('complete', queue, SCRIPTS.complete, keys.active, [workerId, ...pairs])) as string[]);
      } catch (err) {
        failAll(completions, err);
      }
    }
    await Promise.all(
      rest.map(async (claim) => {
        try {
          const raw = await this.run('claim', queue, SCRIPTS.claim, keys.ready(claim.route), [claim.route, workerId, claim.leaseMs, claim.limit]);
          claim.resolve(await this.settleClaim(queue, claim.route, workerId, raw));
        } catch (err) {
          claim.reject(err);
        }
      }),
    );
  }

  async listQueues(): Promise<string[]> {
    return this.call('listQueues', '', async () => (await this.client.smembers(this.directoryKey())).sort());
  }

  /**
   * The directory of queues is one set outside every queue's hash tag (so in a slot of its own on a
   * cluster); it is written once per queue and process, before the queue's first write.
   */
  private async addToDirectory(queue: string): Promise<void> {
    if (this.listedQueues.has(queue)) return;
    await this.call('addToDirectory', queue, () => this.client.sadd(this.directoryKey(), queue));
    this.listedQueues.add(queue);
  }

  private directoryKey(): string {
    return `${this.options.keyPrefix}:queues`;
  }

  private keys(queue: string): QueueKeys {
    let keys = this.keysByQueue.get(queue);
    if (!keys) this.keysByQueue.set(queue, (keys = queueKeys(this.options.keyPrefix, queue)));
    return keys;
  }

  private run(operation: string, queue: string, script: Script, key: string, args: (string | number)[], now?: number): Promise<unknown> {
    return this.call(operation, queue, () => script.run(this.client, key, [this.keys(queue).prefix, now === undefined ? '' : Math.round(now), ...this.retention, ...args]));
  }

  private async call<T>(operation: string, queue: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(operation);
    try {
      return await fn();
    } catch (err) {
      throw mapRedisError(err, operation, { queue });
    }
  }
}

/** Runs commands in one pipeline; the first failure is thrown. */
async function pipelined(client: Redis | Cluster, commands: [string, ...string[]][]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  const replies = (await client.pipeline(commands).exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** A field/value array as HGETALL returns it inside a script, as an object. */
function flatHash(fields: string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let f = 0; f < fields.length; f += 2) hash[fields[f]!] = fields[f + 1]!;
  return hash;
}

/** A job's own retention as the scripts take it: '<count>,<ageMs>' (-1: no limit), '' for the backend's. */
function keepArg(rule: RetentionRule | null | undefined): string {
  return rule ? `${rule.count ?? -1},${rule.ageMs ?? -1}` : '';
}

/** A job in the enqueue script's 13-entry layout. */
function enqueueArgs(job: NewJob): (string | number)[] {
  return [
    job.id,
    job.name,
    JSON.stringify(job.args),
    job.routes.join(','),
    job.type,
    job.priority,
    Math.round(job.runAt),
    job.options.attempts,
    job.dedupeKey ?? '',
    Math.round(job.createdAt),
    encodeRunOptions(job.options),
    keepArg(job.options.removeOnComplete),
    keepArg(job.options.removeOnFail),
  ];
}

function createClient(options: ParsedRedisOptions): Redis | Cluster {
  // No offline queue: a call made while Redis is away fails at once with BACKEND_UNAVAILABLE
  // instead of waiting in memory, where a crash would lose it unacknowledged anyway.
  // No auto-pipelining: it holds each command until the next I/O phase (about 90 µs on loopback);
  // commands still pipeline on the socket, and completions are batched into one script call here.
  const common = { enableOfflineQueue: false, lazyConnect: true, maxRetriesPerRequest: 1 };
  if (!options.cluster) {
    return new Redis(options.url, { ...common, connectTimeout: options.connectTimeoutMs, retryStrategy: (times) => Math.min(50 * times, 1_000) });
  }
  const url = new URL(options.url);
  const nodes = [`${url.hostname}:${url.port || 6379}`, ...options.nodes].map((node) => {
    const [host, port] = node.split(':');
    return { host: host!, port: Number(port || 6379) };
  });
  return new Cluster(nodes, {
    ...common,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    redisOptions: {
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      connectTimeout: options.connectTimeoutMs,
      maxRetriesPerRequest: 1,
      tls: url.protocol === 'rediss:' ? {} : undefined,
    },
  });
}

async function waitReady(client: Redis | Cluster, timeoutMs: number, operation: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw mapRedisError(err, operation);
  } finally {
    clearTimeout(timer);
  }
}

/** The error of a script's `missing` or `lost:<state>:<attempt>:<holder>` status (the holder last: worker ids hold ':'). */
function leaseError(status: string, queue: string, lease: LeaseToken): SkqError {
  if (status === 'missing') return leaseLost(queue, lease, null);
  const match = /^lost:([^:]*):([^:]*):(.*)$/s.exec(status);
  return leaseLost(queue, lease, { state: match?.[1] ?? 'unknown', attempts: Number(match?.[2] ?? 0), workerId: match?.[3] || null });
}

function closedError(operation: string): SkqError {
  return new SkqError('BACKEND_UNAVAILABLE', `redis ${operation}: the backend is closed`);
}
