import type { ClaimRequest, ClaimResult, FailRequest, LeaseToken } from '../contract.js';

/**
 * Leases: claiming due deliveries, ending attempts under their lease, and taking back expired ones.
 * Fenced by the {@link LeaseToken}: a stale token (another worker's, or an earlier attempt's late call) is refused with `LEASE_LOST`.
 *
 * @example
 * ```ts
 * const { deliveries } = await backend.claim({ queue: 'demo', route: 'foo', workerId: 'w1', limit: 10, leaseMs: 30_000 });
 * for (const d of deliveries) await backend.complete('demo', { deliveryId: d.id, workerId: 'w1', attempt: d.attempts }, 'done');
 * ```
 */
export interface LeaseStorage {
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

  /** Stores a running attempt's progress and publishes a `progress` event. Throws `LEASE_LOST` like `complete`. */
  setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void>;

  /**
   * Takes back running deliveries whose lease ended before `now`: queued again while attempts
   * remain, else failed with `LEASE_LOST`. It also fails, with {@link workerGoneError}, every queued
   * delivery addressed to a worker (broadcast) whose registration expired or was removed: nobody
   * else may run it. Returns how many deliveries were taken back.
   */
  recoverExpired(queue: string, now?: number): Promise<number>;
}
