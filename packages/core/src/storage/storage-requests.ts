import type { SerializedError } from '../errors.js';
import type { ClaimedDelivery, JobRecord, JobState } from './job-records.js';

// What backends declare and what the contract asks of them: capabilities, claims, failures, listings, counts.

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
  /**
   * How the store lists jobs. `'by-creation'` (the default): `listJobs`, every job newest first.
   * `'by-state'`: `listJobsInState`, one state at a time in that state's own order, from indexes the
   * store keeps per state anyway (a store that keeps no index by creation, to stay small per job).
   */
  listing?: 'by-creation' | 'by-state';
  /**
   * `enqueue` takes the caller's open transaction (`EnqueueOptions.transaction`) and writes the jobs
   * in it, so they exist if and only if it commits. Core refuses a `tx` fire option on other stores.
   */
  transactionalEnqueue?: boolean;
  /**
   * Jobs may carry a `group`, and the store keeps groups' and routes' limits and fair turns in its
   * claims (the methods of `GroupStorage`). Core refuses groups and limits on other stores.
   */
  groups?: boolean;
  /**
   * The most deliveries a worker's `prefetch: 'auto'` holds beyond its concurrency on this store
   * (default: 64, or 32 above concurrency 50). Claims go in batches of half the window: a store whose
   * every claim and completion is a durable commit of its own does better with larger ones.
   */
  prefetchMax?: number;
  /**
   * `claim` honours `waitMs`: a claim that finds nothing due waits, and an enqueue that makes a delivery due
   * meanwhile claims it for the waiting claim and hands it over, without a wake-up event and a second claim
   * (an idle worker starts a new job sooner). Workers send their claims so while they have no backlog.
   */
  waitingClaims?: boolean;
}

/**
 * How {@link StorageBackend.enqueue} stores a batch.
 *
 * @example
 * ```ts
 * await backend.enqueue(jobs, { transaction: client }); // a node-postgres client inside BEGIN
 * ```
 */
export interface EnqueueOptions {
  /** The caller's open transaction, for a store with `capabilities.transactionalEnqueue`. */
  transaction?: unknown;
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
  /**
   * On a store with `capabilities.waitingClaims`: when nothing is due, wait up to this long (ms) for a
   * delivery handed over at enqueue, instead of answering empty at once. Other stores answer at once.
   */
  waitMs?: number;
  /** Ends a waiting claim early: it answers with what was handed to it by then. */
  signal?: AbortSignal;
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
  /**
   * Due deliveries were held back by a group's or route's limits (a store with groups): `nextRunAt`
   * says when a rate window or a hold ends, and a delivery that ends may free a group's place sooner.
   */
  limited?: boolean;
  /**
   * A claim with `waitMs` found nothing due and waited: for a delivery handed to it (in `deliveries`),
   * until `waitMs` passed, or until its `signal` ended it. Nothing due was missed meanwhile: claim again.
   */
  waited?: boolean;
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
  /**
   * The attempt was rate limited (`RateLimited`): it is not charged (the delivery's `maxAttempts`
   * grows by one), and with `holdGroupUntil` the job's group starts nothing before that instant.
   * Given only to a store with `capabilities.groups`, always with `retryAt`.
   */
  rateLimited?: { holdGroupUntil: number | null };
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
 * What {@link StorageBackend.listJobsInState} is asked for.
 *
 * @example
 * ```ts
 * const query: StateListQuery = { queue: 'demo', state: 'failed', cursor: null, limit: 50 }; // the first page
 * const { jobs, cursor } = await backend.listJobsInState!(query);
 * ```
 */
export interface StateListQuery {
  queue: string;
  state: JobState;
  /** The `cursor` of the previous page; null for the first. */
  cursor: string | null;
  limit: number;
}

/**
 * A page of {@link StorageBackend.listJobsInState}: jobs the state's index holds (core checks each
 * job's state, as a job may have left the state since), and where the next page starts.
 *
 * @example
 * ```ts
 * const page: StateListPage = { jobs: [], cursor: null }; // nothing more in this state
 * ```
 */
export interface StateListPage {
  jobs: JobRecord[];
  /** Pass it back for the next page; null when the state has no more. */
  cursor: string | null;
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
