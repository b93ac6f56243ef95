import type { SerializedError } from '../errors.js';

// Jobs, their deliveries and leases as the storage contract stores them.

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
  /** The group whose limits and turns the job's deliveries obey (a store with `capabilities.groups`); absent or null: none. */
  group?: string | null;
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
  /** The job's group, when it has one. */
  group?: string | null;
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
  /** The job's group, when it has one. */
  group?: string | null;
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
