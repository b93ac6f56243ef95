import type { SerializedError } from '../errors.js';
import type { CallRecord, CallRecordQuery } from './call-records.js';
import type { ThroughputBucket } from './throughput.js';
import type { WorkerCommand, WorkerState, WorkerStatus } from './worker-commands.js';

/**
 * The storage contract: what a backend must do for skunq, in queue terms.
 *
 * A *job* is what a producer fires. It is delivered once per route (direct queues) or
 * once per listening worker of each route (broadcast queues); each of those is a
 * *delivery*, the unit that is claimed, leased, retried and completed.
 */

/**
 * The lifecycle of a job and of each delivery. `scheduled` means queued with a run time in the future.
 *
 * @example
 * ```ts
 * const state: JobState = aggregateState(deliveries, 'cancelled'); // 'running' while any delivery runs
 * ```
 */
export type JobState = 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * The states a job or delivery never leaves.
 *
 * @example
 * ```ts
 * if (TERMINAL_STATES.has(record.state)) return record; // succeeded, failed or cancelled: done waiting
 * ```
 */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Every job state, in lifecycle order.
 *
 * @example
 * ```ts
 * for (const state of JOB_STATES) gauge.set({ queue: 'demo', route: 'foo', state }, counts.foo?.[state] ?? 0);
 * ```
 */
export const JOB_STATES: readonly JobState[] = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

/**
 * How a queue delivers: to one worker per route, or to every worker listening on the route.
 *
 * @example
 * ```ts
 * const type: QueueType = 'broadcast'; // every worker listening on the route gets its own delivery
 * const targets = planDeliveries(['reload-config'], type, await backend.listWorkers('demo'));
 * ```
 */
export type QueueType = 'direct' | 'broadcast';

/**
 * Backoff between retries. Delays are in ms; `jitter` is a fraction (0.2 = ±20 %).
 *
 * @example
 * ```ts
 * const backoff: BackoffPolicy = { type: 'exponential', delayMs: 1_000, maxDelayMs: 60_000, jitter: 0.2 }; // 1 s, 2 s, 4 s… up to 1 min, ±20 %
 * ```
 */
export interface BackoffPolicy {
  type: 'fixed' | 'exponential';
  delayMs: number;
  maxDelayMs: number;
  jitter: number;
}

/**
 * A retention rule as stored with each job: null fields do not limit. `{ count: 0 }` removes at once.
 *
 * @example
 * ```ts
 * const keepNewest: RetentionRule = { count: 1000, ageMs: null }; // retentionRule(1000)
 * const removeAtOnce: RetentionRule = { count: 0, ageMs: null }; // retentionRule(true)
 * ```
 */
export interface RetentionRule {
  count: number | null;
  ageMs: number | null;
}

/**
 * The per-job run options a worker needs; stored with the job.
 *
 * @example
 * ```ts
 * const options: JobRunOptions = {
 *   attempts: 3, backoff: { type: 'fixed', delayMs: 2_000, maxDelayMs: 2_000, jitter: 0 }, timeoutMs: 60_000,
 *   removeOnComplete: { count: 1000, ageMs: null }, // keep the newest 1,000 succeeded jobs
 * };
 * ```
 */
export interface JobRunOptions {
  /** Total attempts, the first included. */
  attempts: number;
  backoff: BackoffPolicy;
  /** Per-attempt timeout in ms; `null` for none. */
  timeoutMs: number | null;
  /** What to keep once the job has succeeded; absent or null keeps it. */
  removeOnComplete?: RetentionRule | null;
  /** What to keep once the job has failed or was cancelled; absent or null keeps it. */
  removeOnFail?: RetentionRule | null;
  /** The delay the job was fired with, in ms: `reschedule` without a time runs it that long from now. */
  delayMs?: number;
}

/**
 * A job to store, as {@link StorageBackend.enqueue} receives it.
 *
 * @example
 * ```ts
 * const job: NewJob = { id: 'order-42', queue: 'demo', name: 'ship', args: [42], routes: ['foo'], type: 'direct',
 *   priority: 0, runAt: Date.now(), createdAt: Date.now(), options: DEFAULT_RUN_OPTIONS };
 * const [result] = await backend.enqueue([job]);
 * ```
 */
export interface NewJob {
  id: string;
  queue: string;
  name: string;
  args: unknown[];
  routes: string[];
  type: QueueType;
  /** Higher runs first; an integer from {@link MIN_PRIORITY} to {@link MAX_PRIORITY}. */
  priority: number;
  /** Epoch ms before which no delivery may be claimed. */
  runAt: number;
  createdAt: number;
  options: JobRunOptions;
  /** While a job with this key is pending (scheduled, queued or running), enqueueing the key returns that job. */
  dedupeKey?: string | null;
}

/**
 * What {@link StorageBackend.enqueue} returns for each job, in input order.
 *
 * @example
 * ```ts
 * const answer: EnqueueResult = { id: pending.id, deduped: true, deliveries: 0 }; // a pending job held the dedupe key
 * ```
 */
export interface EnqueueResult {
  /** The stored job's id: the existing job's id when `deduped`. */
  id: string;
  deduped: boolean;
  /** How many deliveries were created (0 when deduped, or a broadcast with no listener). */
  deliveries: number;
}

/**
 * One delivery of a job to a route (and, on broadcast queues, to one worker).
 *
 * @example
 * ```ts
 * const delivery: Delivery = { ...newDelivery(job, { route: 'foo', targetWorker: null }, 0), queue: job.queue };
 * delivery.state; // 'queued', until a claim makes it 'running'
 * ```
 */
export interface Delivery {
  id: string;
  jobId: string;
  queue: string;
  route: string;
  /** On broadcast queues, the only worker that may claim this delivery. */
  targetWorker: string | null;
  state: JobState;
  priority: number;
  runAt: number;
  /** Claims so far. Each claim adds one, so the number also fences a lease (see {@link LeaseToken}). */
  attempts: number;
  maxAttempts: number;
  /** How many of the claims a lease recovery took back; they do not count against `maxAttempts`. */
  recoveries: number;
  workerId: string | null;
  leaseUntil: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  result: unknown;
  error: SerializedError | null;
  cancelRequested: boolean;
  /** What the handler last reported with `ctx.progress()`, or null. */
  progress: unknown;
}

/**
 * A delivery handed to a worker by {@link StorageBackend.claim}, with what it needs to run it.
 *
 * @example
 * ```ts
 * const claimed: ClaimedDelivery = { ...delivery, name: job.name, args: job.args, options: job.options };
 * ```
 */
export interface ClaimedDelivery extends Delivery {
  name: string;
  args: unknown[];
  options: JobRunOptions;
}

/**
 * Names one attempt of a delivery: the holder and the attempt number its claim was given. Every
 * call that acts under a lease carries one, and a backend refuses a token that is not the current
 * one (a late reply from an earlier attempt, or another worker's), so an attempt can only end or
 * renew itself. The attempt number grows with every claim, which makes it a fencing token.
 *
 * @example
 * ```ts
 * const lease: LeaseToken = { deliveryId: d.id, workerId: 'w1', attempt: d.attempts }; // what leaseOf(d) returns
 * await backend.complete('demo', lease, { sent: true });
 * ```
 */
export interface LeaseToken {
  deliveryId: string;
  workerId: string;
  /** The delivery's `attempts` as its claim returned it. */
  attempt: number;
}

/**
 * A stored job with its deliveries and its state, aggregated over them.
 *
 * @example
 * ```ts
 * const record: JobRecord | null = await backend.getJob('demo', 'order-42');
 * if (record && TERMINAL_STATES.has(record.state)) console.log(record.state, record.deliveries.map((d) => d.error?.message));
 * ```
 */
export interface JobRecord {
  id: string;
  queue: string;
  name: string;
  args: unknown[];
  routes: string[];
  type: QueueType;
  priority: number;
  createdAt: number;
  dedupeKey: string | null;
  options: JobRunOptions;
  state: JobState;
  /** Sum of the deliveries' attempts. */
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The latest progress any of its deliveries reported, or null. */
  progress: unknown;
  deliveries: Delivery[];
}

/**
 * A line of output captured from a handler. Stream `attempt` is the worker's own record of an attempt
 * that did not succeed (when it started, how it ended), so every attempt can be shown on a timeline.
 *
 * @example
 * ```ts
 * const line: LogLine = { deliveryId: 'j1.0', at: Date.now(), stream: 'info', line: 'sent 3 mails' };
 * await backend.appendLogs('demo', [line]);
 * ```
 */
export interface LogLine {
  deliveryId: string;
  at: number;
  stream: 'log' | 'info' | 'warn' | 'error' | 'debug' | 'ctx' | 'attempt';
  line: string;
}

/**
 * A worker's registration.
 *
 * @example
 * ```ts
 * const busy = (await backend.listWorkers('demo')).filter((w: WorkerInfo) => w.state === 'running' && w.runningJobIds.length > 0);
 * ```
 */
export interface WorkerInfo {
  id: string;
  queue: string;
  routes: string[];
  hostname: string;
  pid: number;
  startedAt: number;
  lastSeenAt: number;
  /** The registration counts as gone after this instant unless a heartbeat renews it. */
  expiresAt: number;
  /** What the worker is doing, as its last heartbeat said. */
  state: WorkerState;
  /** The jobs it was running at its last heartbeat. */
  runningJobIds: string[];
  /** The last command sent to it, obeyed or not. */
  command: WorkerCommand | null;
}

/**
 * What {@link StorageBackend.registerWorker} stores: a worker's identity.
 *
 * @example
 * ```ts
 * const me: WorkerRegistration = { id: 'w1', queue: 'demo', routes: ['foo'], hostname: hostname(), pid: process.pid, startedAt: Date.now() };
 * await backend.registerWorker(me, 30_000); // gone after 30 s unless a heartbeat renews it
 * ```
 */
export type WorkerRegistration = Omit<WorkerInfo, 'lastSeenAt' | 'expiresAt' | 'state' | 'runningJobIds' | 'command'>;

/**
 * Lifecycle events, in the order a job goes through them.
 *
 * @example
 * ```ts
 * const endings: JobEventType[] = ['succeeded', 'failed', 'cancelled'];
 * const unsubscribe = await backend.subscribe('demo', (event) => console.log(event.type, event.jobId), endings);
 * ```
 */
export type JobEventType =
  | 'enqueued'
  | 'started'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'cancel-requested'
  | 'rescheduled'
  | 'recovered'
  | 'progress'
  | 'removed'
  | 'paused'
  | 'resumed'
  | 'worker-command';

/**
 * Every event type.
 *
 * @example
 * ```ts
 * for await (const e of queue.events({ types: JOB_EVENT_TYPES.filter((t) => t !== 'progress') })) console.log(e.type);
 * ```
 */
export const JOB_EVENT_TYPES: readonly JobEventType[] = [
  'enqueued', 'started', 'retrying', 'succeeded', 'failed', 'cancelled', 'cancel-requested', 'rescheduled', 'recovered',
  'progress', 'removed', 'paused', 'resumed', 'worker-command',
];

/**
 * A lifecycle event. `seq` grows with each event a backend records. Job events name their job;
 * `paused` and `resumed` name a route ({@link WHOLE_QUEUE} for the queue) and `worker-command` a worker.
 *
 * @example
 * ```ts
 * const event: JobEvent = { seq: 7, type: 'started', queue: 'demo', jobId: 'j1', deliveryId: 'j1.0', route: 'foo', workerId: 'w1', at: Date.now() };
 * const resumed: JobEvent = { seq: 8, type: 'resumed', queue: 'demo', jobId: null, deliveryId: null, route: WHOLE_QUEUE, workerId: null, at: Date.now() };
 * ```
 */
export interface JobEvent {
  seq: number;
  type: JobEventType;
  queue: string;
  /** The job, or null for a queue or worker event. */
  jobId: string | null;
  deliveryId: string | null;
  route: string | null;
  workerId: string | null;
  at: number;
  /** `progress`: the value reported; `worker-command`: the command's id. Else absent. */
  data?: unknown;
}

/**
 * The route name that stands for a whole queue in pause state and in `paused`/`resumed` events.
 *
 * @example
 * ```ts
 * await backend.setPaused('demo', WHOLE_QUEUE, true); // what queue.pause() does
 * ```
 */
export const WHOLE_QUEUE = '*';

/**
 * Optional features a backend declares.
 *
 * @example
 * ```ts
 * const capabilities: StorageCapabilities = { crossProcess: true, pushEvents: false, batchClaim: true, durable: true }; // events found by polling
 * ```
 */
export interface StorageCapabilities {
  /** Several processes can share the store. */
  crossProcess: boolean;
  /** `subscribe` is pushed by the store rather than found by polling. */
  pushEvents: boolean;
  /** `claim` hands out more than one delivery per call. */
  batchClaim: boolean;
  /** Durable across restarts of the process that opened it. */
  durable: boolean;
  /**
   * The most bytes of JSON the store keeps for one result, error, log line or job, when it has such
   * a limit (FoundationDB: 90,000, under its 100 KB values). Workers then cut errors and log lines and
   * refuse results to fit, and enqueue refuses larger jobs (`storage/value-limits.ts`); unset, only
   * skunq's own caps apply.
   */
  maxValueBytes?: number;
}

/**
 * What {@link StorageBackend.claim} is asked for.
 *
 * @example
 * ```ts
 * const request: ClaimRequest = { queue: 'demo', route: 'foo', workerId: 'w1', limit: 10, leaseMs: 30_000 };
 * const { deliveries, nextRunAt } = await backend.claim(request);
 * ```
 */
export interface ClaimRequest {
  queue: string;
  route: string;
  workerId: string;
  /** At most this many deliveries. */
  limit: number;
  /** The lease length in ms. */
  leaseMs: number;
  now?: number;
}

/**
 * What {@link StorageBackend.claim} returns.
 *
 * @example
 * ```ts
 * const paused: ClaimResult = { deliveries: [], nextRunAt: null, paused: true }; // the route or its queue is paused
 * const idle: ClaimResult = { deliveries: [], nextRunAt: earliest.runAt }; // nothing due before the earliest run time
 * ```
 */
export interface ClaimResult {
  deliveries: ClaimedDelivery[];
  /** When fewer than `limit` were claimable: the earliest run time of a queued delivery still in the future. */
  nextRunAt: number | null;
  /** The route (or its queue) is paused: nothing was claimed, and a `resumed` event will say when to try again. */
  paused?: boolean;
}

/**
 * How a failed attempt ends.
 *
 * @example
 * ```ts
 * const request: FailRequest = { error: serializeError(err), retryAt: Date.now() + 5_000 };
 * await backend.fail('demo', lease, request); // 'retrying', unless a cancel was requested
 * ```
 */
export interface FailRequest {
  error: SerializedError;
  /** Queue the delivery again at this instant. Omit for a final failure. */
  retryAt?: number | null;
  /** The attempt ended because the job was cancelled: the delivery ends `cancelled`. */
  cancelled?: boolean;
}

/**
 * Where a listing of jobs stands: jobs are listed newest first, by creation time, then id descending.
 *
 * @example
 * ```ts
 * const after: JobPosition = { createdAt: last.createdAt, id: last.id }; // the previous page's last job
 * const page = await backend.listJobs({ queue: 'demo', after, limit: 50 });
 * ```
 */
export interface JobPosition {
  createdAt: number;
  id: string;
}

/**
 * What {@link StorageBackend.listJobs} is asked for.
 *
 * @example
 * ```ts
 * const query: ListJobsQuery = { queue: 'demo', after: null, limit: 50 }; // the newest 50
 * const newest = await backend.listJobs(query);
 * ```
 */
export interface ListJobsQuery {
  queue: string;
  /** List jobs that come after this one in the order (older, or as old with a lower id); omit to start at the newest. */
  after?: JobPosition | null;
  limit: number;
}

/**
 * Job counts per route and state.
 *
 * @example
 * ```ts
 * const counts: StateCounts = { foo: { ...zeroStateCounts(), queued: 12, running: 2 } };
 * ```
 */
export type StateCounts = Record<string, Record<JobState, number>>;

/**
 * How a schedule computes its ticks; stored as JSON and interpreted by `@skq/core`.
 *
 * @example
 * ```ts
 * const nightly: ScheduleRule = { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Paris' };
 * const poll: ScheduleRule = { kind: 'after', delayMs: 30_000 }; // 30 s after the last run ended
 * ```
 */
export type ScheduleRule =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; expression: string; timezone: string | null }
  /** Recurring after each run: the next run is the last run's completion plus the delay. */
  | { kind: 'after'; delayMs: number }
  /** The next run is the last run's completion plus an interval an adaptive policy sets. */
  | { kind: 'adaptive'; policy: 'aimd' | 'rto' | 'slow-start'; options: Record<string, number> };

/**
 * The job a schedule fires at each tick.
 *
 * @example
 * ```ts
 * const job: ScheduledJob = { name: 'cleanup', type: 'direct', args: [], routes: ['ops'], priority: 0, options: DEFAULT_RUN_OPTIONS };
 * ```
 */
export interface ScheduledJob {
  name: string;
  type: QueueType;
  args: unknown[];
  routes: string[];
  priority: number;
  options: JobRunOptions;
}

/**
 * A schedule's definition, as saved by whoever defines it.
 *
 * @example
 * ```ts
 * const definition: ScheduleDefinition = { id: 'cleanup', rule: { kind: 'every', everyMs: 60_000 }, job, nextRunAt: Date.now() + 60_000, state: null };
 * await backend.saveSchedule('demo', definition); // 'created', then 'unchanged' when saved again
 * ```
 */
export interface ScheduleDefinition {
  id: string;
  rule: ScheduleRule;
  job: ScheduledJob;
  /** The first tick. */
  nextRunAt: number;
  /** An adaptive policy's starting state. */
  state: Record<string, number> | null;
}

/**
 * A stored schedule with its runtime state. `version` grows with every change: it is the compare-and-set token.
 *
 * @example
 * ```ts
 * const due = (await backend.listSchedules('demo')).filter((s: ScheduleRecord) => !s.paused && s.nextRunAt !== null && s.nextRunAt <= Date.now());
 * ```
 */
export interface ScheduleRecord extends Omit<ScheduleDefinition, 'nextRunAt'> {
  queue: string;
  /** Null while the schedule waits for its last job to end (`after` and `adaptive` rules). */
  nextRunAt: number | null;
  waitingJobId: string | null;
  paused: boolean;
  firedCount: number;
  lastFiredAt: number | null;
  lastJobId: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * What {@link StorageBackend.fireSchedule} stores besides the job it enqueues.
 *
 * @example
 * ```ts
 * const firing: ScheduleFiring = { job: newJob, firedAt: Date.now(), nextRunAt: s.nextRunAt! + 60_000, waitingJobId: null };
 * const fired = await backend.fireSchedule('demo', s.id, s.version, firing); // false when another process fired this tick first
 * ```
 */
export interface ScheduleFiring {
  job: NewJob;
  firedAt: number;
  /** The next tick, or null to wait for `waitingJobId` to end. */
  nextRunAt: number | null;
  waitingJobId: string | null;
}

/**
 * A listener for {@link StorageBackend.subscribe}.
 *
 * @example
 * ```ts
 * const listeners = new Set<JobEventListener>(); // subscribe adds one; its unsubscribe function deletes it
 * for (const listener of listeners) listener(event);
 * ```
 */
export type JobEventListener = (event: JobEvent) => void;


/**
 * How many times a delivery whose worker vanished (lease expired) goes back to the queue before
 * it fails with `LEASE_LOST`. Like BullMQ's stalled limit, it is separate from the retry budget
 * (see `chargedAttempts`), so a job with one attempt survives a worker's SIGKILL but a job that
 * kills every worker stops.
 *
 * @example
 * ```ts
 * // A store that decides inside a script passes the bound to it (the others call expiredLeaseOutcome):
 * await redis.evalsha(recoverSha, 1, activeKey, MAX_LEASE_RECOVERIES, Date.now());
 * ```
 */
export const MAX_LEASE_RECOVERIES = 3;

/**
 * The lowest job priority. The range is bounded so that backends can fold priority and run time into one sort key.
 *
 * @example
 * ```ts
 * await cleanup.fireWith({ priority: MIN_PRIORITY }); // claimed once no due job of higher priority waits on its route
 * ```
 */
export const MIN_PRIORITY = -1000;
/**
 * The highest job priority.
 *
 * @example
 * ```ts
 * // A sorted-set score, lowest first: higher priority, then earlier run time (exact in a double)
 * const score = (MAX_PRIORITY - d.priority) * 2 ** 41 + (d.runAt - Date.UTC(2020, 0, 1));
 * ```
 */
export const MAX_PRIORITY = 1000;
