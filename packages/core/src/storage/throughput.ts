/**
 * How long backends keep throughput counts: 24 hours.
 *
 * @example
 * ```ts
 * const all = await backend.throughput('demo', Date.now() - THROUGHPUT_WINDOW_MS);
 * ```
 */
export const THROUGHPUT_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Jobs that ended on one route in one minute.
 *
 * @example
 * ```ts
 * const bucket: ThroughputBucket = { minute: minuteOf(Date.now()), route: 'foo', completed: 118, failed: 2 };
 * const failedLastHour = (await backend.throughput('demo', Date.now() - 3_600_000)).reduce((n, b) => n + b.failed, 0);
 * ```
 */
export interface ThroughputBucket {
  /** The minute's start, epoch ms. */
  minute: number;
  route: string;
  completed: number;
  failed: number;
}

/**
 * The start of the minute that holds `at`.
 *
 * @example
 * ```ts
 * minuteOf(Date.parse('2026-01-01T10:00:42Z')) === Date.parse('2026-01-01T10:00:00Z');
 * ```
 */
export function minuteOf(at: number): number {
  return at - (at % 60_000);
}
