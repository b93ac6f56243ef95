// How many deliveries `prefetch: 'auto'` holds beyond a worker's concurrency, from its recent pace.

/** `prefetch: 'auto'` holds what the worker finishes in this long at its recent pace… */
const AUTO_PREFETCH_MS = 50;
/**
 * …and at most this many, unless the store says otherwise (`capabilities.prefetchMax`; SQLite says 512,
 * PostgreSQL 200, where each commit has a cost of its own): claims go in batches of half of it. On Redis
 * at concurrency 1, 64 ran about 15 % faster than 32.
 */
const AUTO_PREFETCH_MAX = 64;
/**
 * …or this many above {@link AUTO_PREFETCH_WIDE} slots: at concurrency 100 on Redis a window of 100 + 64
 * ran about 10 % slower than 100 + 32 (claims of 82 jobs, where the store answers one while the worker
 * runs the other, against 66), while at concurrency 1 a prefetch of 32 ran about 15 % slower than 64.
 */
const AUTO_PREFETCH_MAX_WIDE = 32;
const AUTO_PREFETCH_WIDE = 50;

/**
 * The prefetch of `prefetch: 'auto'`: what a worker of `concurrency` slots finishes in
 * {@link AUTO_PREFETCH_MS} at its recent pace (`recentMs` per job and slot; null: none known yet, so
 * nothing), at most the store's `prefetchMax` or this module's defaults.
 *
 * @example
 * ```ts
 * autoPrefetch(1, 0.05, undefined); // 64: at 50 µs a job, more than 64 fit in 50 ms
 * autoPrefetch(1, 10, undefined); // 5
 * autoPrefetch(1, null, undefined); // 0 before the first job ends
 * ```
 */
export function autoPrefetch(concurrency: number, recentMs: number | null, prefetchMax: number | undefined): number {
  if (recentMs === null) return 0;
  const most = prefetchMax ?? (concurrency > AUTO_PREFETCH_WIDE ? AUTO_PREFETCH_MAX_WIDE : AUTO_PREFETCH_MAX);
  return Math.min(most, Math.floor((concurrency * AUTO_PREFETCH_MS) / Math.max(recentMs, 0.01)));
}

/**
 * The recent pace of a worker's slot, in ms (a moving average), for `prefetch: 'auto'`: a job's time from
 * its start to its stored outcome, or less when outcomes are stored one after another faster than that (a
 * store that commits a group of them at once: the next job runs while the last one's outcome is on its
 * way); null before the first and after a claim failed. The store's time counts: prefetching by the
 * handler's time alone held 16 no-op jobs at a worker whose slow store took seconds to end them, past
 * their leases, which expired until the jobs failed without having run.
 *
 * @example
 * ```ts
 * const pace = new SlotPace(concurrency);
 * pace.stored(startedAt); // an outcome was stored; `startedAt` is when its job started (performance.now())
 * autoPrefetch(concurrency, pace.recentMs, prefetchMax);
 * ```
 */
export class SlotPace {
  recentMs: number | null = null;
  /** When the last outcome was stored (performance.now()). */
  private lastStoredAt: number | null = null;

  constructor(private readonly concurrency: number) {}

  /** An outcome was stored now, of a job started at `startedAt` (performance.now()). */
  stored(startedAt: number): void {
    const storedAt = performance.now();
    const cycleMs = storedAt - startedAt;
    // The time between stored outcomes, per slot, is the pace when it is shorter than one job's cycle; an
    // idle gap is never longer than the cycle, so the pace is never slower than the cycle says.
    const paceMs = this.lastStoredAt === null ? cycleMs : Math.min(cycleMs, (storedAt - this.lastStoredAt) * this.concurrency);
    this.lastStoredAt = storedAt;
    this.recentMs = this.recentMs === null ? paceMs : 0.8 * this.recentMs + 0.2 * paceMs;
  }

  /** A claim failed: the pace is unknown again, so nothing is prefetched until a job ends. */
  forget(): void {
    this.recentMs = null;
  }
}
