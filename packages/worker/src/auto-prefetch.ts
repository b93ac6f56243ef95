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
