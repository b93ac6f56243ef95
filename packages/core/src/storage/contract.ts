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

/** The lifecycle of a job and of each delivery. `scheduled` means queued with a run time in the future. */
export type JobState = 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** The states a job or delivery never leaves. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

/** Every job state, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** How a queue delivers: to one worker per route, or to every worker listening on the route. */
export type QueueType = 'direct' | 'broadcast';

/** Backoff between retries. Delays are in ms; `jitter` is a fraction (0.2 = ±20 %). */
export interface BackoffPolicy {
  type: 'fixed' | 'exponential';
  delayMs: number;
  maxDelayMs: number;
  jitter: number;
}

/** A retention rule as stored with each job: null fields do not limit. `{ count: 0 }` removes at once. */
export interface RetentionRule {
  count: number | null;
  ageMs: number | null;
}

/** The per-job run options a worker needs; stored with the job. */
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

/** A job to store, as {@link StorageBackend.enqueue} receives it. */
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

/** What {@link StorageBackend.enqueue} returns for each job, in input order. */
export interface EnqueueResult {
  /** The stored job's id: the existing job's id when `deduped`. */
  id: string;
  deduped: boolean;
  /** How many deliveries were created (0 when deduped, or a broadcast with no listener). */
  deliveries: number;
}

/** One delivery of a job to a route (and, on broadcast queues, to one worker). */
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

/** A delivery handed to a worker by {@link StorageBackend.claim}, with what it needs to run it. */
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
 */
export interface LeaseToken {
  deliveryId: string;
  workerId: string;
  /** The delivery's `attempts` as its claim returned it. */
  attempt: number;
}

/** A stored job with its deliveries and its state, aggregated over them. */
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
 */
export interface LogLine {
  deliveryId: string;
  at: number;
  stream: 'log' | 'info' | 'warn' | 'error' | 'debug' | 'ctx' | 'attempt';
  line: string;
}

/** A worker's registration. */
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

/** What {@link StorageBackend.registerWorker} stores: a worker's identity. */
export type WorkerRegistration = Omit<WorkerInfo, 'lastSeenAt' | 'expiresAt' | 'state' | 'runningJobIds' | 'command'>;

/** Lifecycle events, in the order a job goes through them. */
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

/** Optional features a backend declares. */
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

/** What {@link StorageBackend.claim} is asked for. */
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

/** What {@link StorageBackend.claim} returns. */
export interface ClaimResult {
  deliveries: ClaimedDelivery[];
  /** When fewer than `limit` were claimable: the earliest run time of a queued delivery still in the future. */
  nextRunAt: number | null;
  /** The route (or its queue) is paused: nothing was claimed, and a `resumed` event will say when to try again. */
  paused?: boolean;
}

/** How a failed attempt ends. */
export interface FailRequest {
  error: SerializedError;
  /** Queue the delivery again at this instant. Omit for a final failure. */
  retryAt?: number | null;
  /** The attempt ended because the job was cancelled: the delivery ends `cancelled`. */
  cancelled?: boolean;
}

/** Where a listing of jobs stands: jobs are listed newest first, by creation time, then id descending. */
export interface JobPosition {
  createdAt: number;
  id: string;
}

/** What {@link StorageBackend.listJobs} is asked for. */
export interface ListJobsQuery {
  queue: string;
  /** List jobs that come after this one in the order (older, or as old with a lower id); omit to start at the newest. */
  after?: JobPosition | null;
  limit: number;
}

/** Job counts per route and state. */
export type StateCounts = Record<string, Record<JobState, number>>;

/** How a schedule computes its ticks; stored as JSON and interpreted by `@skq/core`. */
export type ScheduleRule =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; expression: string; timezone: string | null }
  /** PyTaSched's recurring tasks: the next run is the last run's completion plus the delay. */
  | { kind: 'after'; delayMs: number }
  /** The next run is the last run's completion plus an interval an adaptive policy sets. */
  | { kind: 'adaptive'; policy: 'aimd' | 'rto' | 'slow-start'; options: Record<string, number> };

/** The job a schedule fires at each tick. */
export interface ScheduledJob {
  name: string;
  type: QueueType;
  args: unknown[];
  routes: string[];
  priority: number;
  options: JobRunOptions;
}

/** A schedule's definition, as saved by whoever defines it. */
export interface ScheduleDefinition {
  id: string;
  rule: ScheduleRule;
  job: ScheduledJob;
  /** The first tick. */
  nextRunAt: number;
  /** An adaptive policy's starting state. */
  state: Record<string, number> | null;
}

/** A stored schedule with its runtime state. `version` grows with every change: it is the compare-and-set token. */
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

/** What {@link StorageBackend.fireSchedule} stores besides the job it enqueues. */
export interface ScheduleFiring {
  job: NewJob;
  firedAt: number;
  /** The next tick, or null to wait for `waitingJobId` to end. */
  nextRunAt: number | null;
  waitingJobId: string | null;
}

/** A listener for {@link StorageBackend.subscribe}. */
export type JobEventListener = (event: JobEvent) => void;

/**
 * The storage contract. Every call names its queue, so a backend can keep each queue apart
 * (one Redis Cluster slot, one key range). Every backend implements it and runs `runStorageContract` from `@skq/testing`.
 *
 * Guarantees every backend gives:
 * - `enqueue` is atomic per job: all of a job's deliveries are stored, or none. It is idempotent per
 *   job id: a stored id is answered as it is, so an enqueue resent after a lost reply never duplicates.
 *   A job id names one job per queue; a backend that keeps one id space for the whole store refuses
 *   an id that another queue holds with `ID_CONFLICT`. It never answers an enqueue it did not store.
 * - `claim` is atomic: a delivery is leased to one claimer at a time.
 * - `complete`, `fail` and `extendLease` act only under the current {@link LeaseToken}: the holder
 *   and the attempt number of its claim. A stale token (another worker's, or an earlier attempt's
 *   late call) is refused with `LEASE_LOST`.
 * - A lease that expires is taken back by `recoverExpired`; nothing acknowledged is lost. A broadcast
 *   delivery whose worker is gone ends failed with `WORKER_GONE`, so it is not left queued for ever.
 * - A delivery that ends succeeded or failed is counted in its minute's `throughput`. When a job's
 *   last delivery ends, the retention rule in its options (`removeOnComplete` or `removeOnFail`)
 *   applies: `{ count: 0 }` deletes it at once, else the queue's ended jobs of that kind are trimmed
 *   to the newest `count` and to `ageMs`, at least every `trimEvery(rule)` endings.
 *
 * @example
 * ```ts
 * const backend: StorageBackend = await openBackend('sqlite:.skunq/skunq.db');
 * const { deliveries } = await backend.claim({ queue: 'demo', route: 'foo', workerId: 'w1', limit: 10, leaseMs: 30_000 });
 * ```
 */
export interface StorageBackend {
  readonly kind: string;
  readonly capabilities: StorageCapabilities;

  /**
   * Stores jobs, each with its deliveries, in one batch. Delayed jobs (runAt in the future) are
   * stored `scheduled`. Broadcast jobs get one delivery per route and per worker registered on it
   * and alive at this instant. A pending job with the same `dedupeKey` in the queue is returned instead.
   */
  enqueue(jobs: NewJob[]): Promise<EnqueueResult[]>;

  /**
   * Leases up to `limit` due deliveries of one route to `workerId`: highest priority first, then
   * earliest run time, then enqueue order. Increments each one's `attempts`, the attempt's fencing token.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;

  /** Ends a leased attempt with its result. Throws `LEASE_LOST` unless `lease` is the current one. */
  complete(queue: string, lease: LeaseToken, result: unknown): Promise<void>;

  /** Ends a leased attempt with an error, queueing a retry when `retryAt` is given. Throws `LEASE_LOST` likewise. */
  fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'>;

  /** Extends the leases that are still current; returns those (a lost one is missing). */
  extendLease(queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]>;

  /**
   * Takes back running deliveries whose lease ended before `now`: queued again while attempts
   * remain, else failed with `LEASE_LOST`. It also fails, with {@link workerGoneError}, every queued
   * delivery addressed to a worker (broadcast) whose registration expired or was removed: nobody
   * else may run it. Returns how many deliveries were taken back.
   */
  recoverExpired(queue: string, now?: number): Promise<number>;

  /**
   * Cancels a job: its queued deliveries end `cancelled`, running ones get a cancel request
   * (a `cancel-requested` event) that their worker honours. Returns false if nothing was left to cancel.
   */
  cancel(queue: string, jobId: string): Promise<boolean>;

  /** Moves a job's queued deliveries to run at `runAt`. Returns false if none was queued. */
  reschedule(queue: string, jobId: string, runAt: number): Promise<boolean>;

  /** A job of the queue with its deliveries, or null (also when the id belongs to another queue). */
  getJob(queue: string, jobId: string): Promise<JobRecord | null>;

  /**
   * Up to `limit` jobs of a queue in listing order (newest first: creation time, then id, both
   * descending), starting after `after`. Keyset paging: jobs added meanwhile never shift a page.
   */
  listJobs(query: ListJobsQuery): Promise<JobRecord[]>;

  /**
   * Runs a job's failed and cancelled deliveries again at `runAt`, each with a fresh budget of
   * `attempts`, atomically: of two calls at once, one moves them and the other finds none.
   * Returns how many deliveries it queued.
   */
  retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number>;

  /** Deletes jobs with their deliveries and logs, skipping any with a running delivery. Returns the ids deleted. */
  removeJobs(queue: string, jobIds: string[]): Promise<string[]>;

  /** Stores a running attempt's progress and publishes a `progress` event. Throws `LEASE_LOST` like `complete`. */
  setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void>;

  /**
   * Pauses or resumes one route, or the whole queue with {@link WHOLE_QUEUE}. A claim that begins after
   * the pause is stored returns nothing, with `paused: true`; one already under way may still finish
   * (its jobs run: nothing is stranded). Enqueue goes on. Publishes `paused` or `resumed`. Returns
   * false when the state was already so.
   */
  setPaused(queue: string, route: string, paused: boolean): Promise<boolean>;

  /** The paused routes of a queue, {@link WHOLE_QUEUE} when the queue itself is. */
  pausedRoutes(queue: string): Promise<string[]>;

  /** Completed and failed counts per route and minute since `since` (the backend keeps 24 hours). */
  throughput(queue: string, since: number): Promise<ThroughputBucket[]>;

  /** Stores a record of a wrapped call (`asEvent`). */
  appendCallRecord(queue: string, record: CallRecord): Promise<void>;

  /** Call records, newest first. */
  listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]>;

  /** Delivery counts per route and state. */
  countByState(queue: string): Promise<StateCounts>;

  /** The names of the queues that hold jobs, workers or schedules in this store, sorted (a monitor's directory). */
  listQueues(): Promise<string[]>;

  /**
   * Appends captured output to the logs of the deliveries the lines name (any of the queue's, in one
   * call). A store that writes in several transactions and fails after some committed says how many
   * lines, from the first, it stored in the error's `context.linesStored`, so none is written twice.
   */
  appendLogs(queue: string, lines: LogLine[]): Promise<void>;

  /** A job's log lines, in order. */
  getLogs(queue: string, jobId: string): Promise<LogLine[]>;

  /** Registers (or re-registers) a worker, alive for `ttlMs` unless renewed, in state `running`. */
  registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void>;

  /**
   * Renews a worker's registration with its status; marks the command `status.obeyedCommandId` names
   * obeyed. Returns the registration, whose `command` may be new, or null if it had expired.
   */
  heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null>;

  /**
   * Leaves a command on a live worker's registration (replacing an earlier one) and publishes a
   * `worker-command` event naming the worker. Returns false if no live worker has that id.
   */
  sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean>;

  /** Removes a worker's registration. */
  unregisterWorker(queue: string, workerId: string): Promise<void>;

  /** Workers of a queue whose registration has not expired. */
  listWorkers(queue: string): Promise<WorkerInfo[]>;

  /**
   * Calls `listener` with each lifecycle event of the queue recorded after this call, in order,
   * limited to `types` when given (a worker needs only wake-ups; a waiter only endings).
   * Events also serve as wake-ups for idle workers. Delivery is best effort: a subscriber that
   * loses its connection may miss events, so callers re-read state on a timer as well.
   * Resolves to an unsubscribe function.
   */
  subscribe(queue: string, listener: JobEventListener, types?: readonly JobEventType[]): Promise<() => Promise<void>>;

  /**
   * Saves a schedule's definition. A schedule whose rule and job are unchanged keeps its runtime
   * state (so every process that defines it at start-up agrees on one schedule); a changed one
   * takes the new definition, its first tick and a new version.
   */
  saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'>;

  /** The queue's schedules. */
  listSchedules(queue: string): Promise<ScheduleRecord[]>;

  /** Pauses or resumes a schedule. Returns false if there is none with that id. */
  setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean>;

  /** Removes a schedule. Returns false if there is none with that id. */
  removeSchedule(queue: string, id: string): Promise<boolean>;

  /**
   * Fires one tick, atomically: only if the schedule is still at `version` and not paused, enqueues
   * `firing.job` and moves the schedule on (version + 1). Many processes may try the same tick;
   * exactly one succeeds. Returns whether this call fired it.
   */
  fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean>;

  /** Sets the next tick of a schedule that waited for its job, if it is still at `version`. */
  advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean>;

  /**
   * Releases connections and timers. Once it has resolved no listener is called any more (events
   * already read are dropped) and every call fails with `BACKEND_UNAVAILABLE`.
   */
  close(): Promise<void>;
}

/**
 * Aggregates deliveries into one job state: running wins, then queued work, then
 * failed, cancelled and succeeded.
 */
export function aggregateState(deliveries: ReadonlyArray<Pick<Delivery, 'state'>>, fallback: JobState): JobState {
  if (deliveries.length === 0) return fallback;
  const states = new Set(deliveries.map((d) => d.state));
  for (const state of ['running', 'queued', 'scheduled', 'failed', 'cancelled'] as const) {
    if (states.has(state)) return state;
  }
  return 'succeeded';
}

/**
 * The part of a {@link JobRecord} its deliveries decide: the aggregate state (`emptyState` for a
 * job without deliveries), the attempts summed, the first start and, once every delivery ended,
 * the last finish, and the progress of the last delivery that reported one.
 *
 * @example
 * ```ts
 * const record: JobRecord = { ...header, ...summarizeDeliveries(deliveries, 'cancelled'), deliveries };
 * ```
 */
export function summarizeDeliveries(
  deliveries: readonly Delivery[],
  emptyState: JobState,
): Pick<JobRecord, 'state' | 'attempts' | 'startedAt' | 'finishedAt' | 'progress'> {
  const reported = deliveries.filter((d) => d.progress !== null && d.progress !== undefined);
  const started = deliveries.map((d) => d.startedAt).filter((v): v is number => v !== null);
  const finished = deliveries.map((d) => d.finishedAt);
  return {
    state: aggregateState(deliveries, emptyState),
    attempts: deliveries.reduce((sum, d) => sum + d.attempts, 0),
    startedAt: started.length ? Math.min(...started) : null,
    finishedAt: finished.length && finished.every((f) => f !== null) ? Math.max(...(finished as number[])) : null,
    progress: reported.length ? reported[reported.length - 1]!.progress : null,
  };
}

/**
 * How many times a delivery whose worker vanished (lease expired) goes back to the queue before
 * it fails with `LEASE_LOST`. Like BullMQ's stalled limit, it is separate from the retry budget
 * (see `chargedAttempts`), so a job with one attempt survives a worker's SIGKILL but a job that
 * kills every worker stops.
 */
export const MAX_LEASE_RECOVERIES = 3;

/** The lowest job priority. The range is bounded so that backends can fold priority and run time into one sort key. */
export const MIN_PRIORITY = -1000;
/** The highest job priority. */
export const MAX_PRIORITY = 1000;
