import { z } from 'zod';
import { parseConfig } from '../config.js';

/**
 * How a run went, as adaptive schedules learn from it.
 *
 * @example
 * ```ts
 * const outcome: RunOutcome = { durationMs: 850, ok: true };
 * state = policy.next(state, outcome);
 * ```
 */
export interface RunOutcome {
  /** How long the run took, in ms. */
  durationMs: number;
  /** False when the job failed (or was cancelled). */
  ok: boolean;
}

/**
 * The state an adaptive policy keeps between runs; plain JSON so schedules can persist it.
 *
 * @example
 * ```ts
 * const state: IntervalState = { intervalMs: 2_400, srtt: 800, rttvar: 400 }; // an RTO policy's state after one 800 ms run
 * ```
 */
export interface IntervalState {
  intervalMs: number;
  [key: string]: number;
}

/**
 * Sets the next interval from the outcome of the last run.
 *
 * @example
 * ```ts
 * const policy: IntervalPolicy = new RtoInterval({ minMs: 500, maxMs: 300_000 });
 * let state = policy.initial();
 * state = policy.next(state, { durationMs: 1_200, ok: true }); // wait state.intervalMs before the next run
 * ```
 */
export interface IntervalPolicy {
  readonly kind: 'aimd' | 'rto' | 'slow-start';
  initial(): IntervalState;
  next(state: IntervalState, outcome: RunOutcome): IntervalState;
}

const Bounds = {
  minMs: z.number().positive(),
  maxMs: z.number().positive(),
};

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * Options of {@link AimdInterval} and {@link AIMDScheduler}: the bounds of the interval, the step it
 * shrinks by after a good run and the factor it grows by after a bad one.
 *
 * @example
 * ```ts
 * AimdOptionsSchema.parse({ minMs: 1_000, maxMs: 60_000, stepMs: 1_000 }); // factor: 2 by default
 * AimdOptionsSchema.safeParse({ minMs: 5_000, maxMs: 1_000, stepMs: 100 }).success; // false: minMs must not exceed maxMs
 * ```
 */
export const AimdOptionsSchema = z
  .object({
    ...Bounds,
    /** The first interval. Default: maxMs. */
    initialMs: z.number().positive().optional(),
    /** Subtracted from the interval after a good run. */
    stepMs: z.number().positive(),
    /** The interval is multiplied by this after a bad run. */
    factor: z.number().gt(1).default(2),
  })
  .strict()
  .refine((o) => o.minMs <= o.maxMs, 'minMs must not exceed maxMs');

/**
 * AIMD, additive increase and multiplicative decrease of the run rate, as TCP does with its window.
 * A run is *good* when it succeeded and took no longer than the interval, else *bad*:
 * - good: `interval ← max(minMs, interval − stepMs)` (runs come steadily more often);
 * - bad:  `interval ← min(maxMs, interval × factor)` (runs back off at once).
 *
 * @example
 * ```ts
 * const aimd = new AimdInterval({ minMs: 1_000, maxMs: 60_000, stepMs: 1_000 });
 * let state = aimd.initial(); // 60 s
 * state = aimd.next(state, { durationMs: 200, ok: true }); // 59 s
 * ```
 */
export class AimdInterval implements IntervalPolicy {
  readonly kind = 'aimd';
  private readonly options: z.output<typeof AimdOptionsSchema>;
  constructor(options: z.input<typeof AimdOptionsSchema>) {
    this.options = parseConfig(AimdOptionsSchema, options, 'AIMD options');
  }
  initial(): IntervalState {
    return { intervalMs: clamp(this.options.initialMs ?? this.options.maxMs, this.options.minMs, this.options.maxMs) };
  }
  next(state: IntervalState, outcome: RunOutcome): IntervalState {
    const { minMs, maxMs, stepMs, factor } = this.options;
    const good = outcome.ok && outcome.durationMs <= state.intervalMs;
    return { intervalMs: good ? Math.max(minMs, state.intervalMs - stepMs) : Math.min(maxMs, state.intervalMs * factor) };
  }
}

/**
 * Options of {@link RtoInterval} and {@link RTOScheduler}: the bounds of the interval and RFC 6298's
 * weights (α, β) and slack (K).
 *
 * @example
 * ```ts
 * RtoOptionsSchema.parse({ minMs: 500, maxMs: 300_000 }); // alpha 0.125, beta 0.25, k 4 by default
 * ```
 */
export const RtoOptionsSchema = z
  .object({
    ...Bounds,
    /** Weight of a new duration in the smoothed duration (RFC 6298's alpha). */
    alpha: z.number().gt(0).lt(1).default(1 / 8),
    /** Weight of a new deviation in the smoothed deviation (RFC 6298's beta). */
    beta: z.number().gt(0).lt(1).default(1 / 4),
    /** Deviations of slack (RFC 6298's K). */
    k: z.number().positive().default(4),
  })
  .strict()
  .refine((o) => o.minMs <= o.maxMs, 'minMs must not exceed maxMs');

/**
 * RTO, TCP's retransmission timeout (RFC 6298) applied to run durations R:
 * - first run: `SRTT ← R`, `RTTVAR ← R / 2`;
 * - later runs: `RTTVAR ← (1 − β)·RTTVAR + β·|SRTT − R|`, then `SRTT ← (1 − α)·SRTT + α·R`;
 * - `interval ← clamp(SRTT + K·RTTVAR, minMs, maxMs)`, with α = 1/8, β = 1/4, K = 4 by default;
 * - a failed run doubles the interval (TCP's backoff) without touching SRTT or RTTVAR.
 *
 * @example
 * ```ts
 * const rto = new RtoInterval({ minMs: 100, maxMs: 60_000 });
 * const state = rto.next(rto.initial(), { durationMs: 800, ok: true }); // 800 + 4 · 400 = 2400 ms
 * ```
 */
export class RtoInterval implements IntervalPolicy {
  readonly kind = 'rto';
  private readonly options: z.output<typeof RtoOptionsSchema>;
  constructor(options: z.input<typeof RtoOptionsSchema>) {
    this.options = parseConfig(RtoOptionsSchema, options, 'RTO options');
  }
  initial(): IntervalState {
    return { intervalMs: this.options.minMs, srtt: -1, rttvar: 0 };
  }
  next(state: IntervalState, outcome: RunOutcome): IntervalState {
    const { minMs, maxMs, alpha, beta, k } = this.options;
    if (!outcome.ok) return { ...state, intervalMs: Math.min(maxMs, state.intervalMs * 2) };
    const r = outcome.durationMs;
    let srtt: number;
    let rttvar: number;
    if (state.srtt === undefined || state.srtt < 0) {
      srtt = r;
      rttvar = r / 2;
    } else {
      rttvar = (1 - beta) * state.rttvar! + beta * Math.abs(state.srtt - r);
      srtt = (1 - alpha) * state.srtt + alpha * r;
    }
    return { intervalMs: clamp(srtt + k * rttvar, minMs, maxMs), srtt, rttvar };
  }
}

/**
 * Options of {@link SlowStartInterval} and {@link SlowStartScheduler}: the bounds of the interval, the
 * threshold where halving gives way to linear steps, and the step.
 *
 * @example
 * ```ts
 * SlowStartOptionsSchema.parse({ minMs: 1_000, maxMs: 64_000, stepMs: 1_000 }); // no thresholdMs: 8 s, the geometric mean
 * ```
 */
export const SlowStartOptionsSchema = z
  .object({
    ...Bounds,
    /** The interval slow start halves down to; below it the interval shrinks linearly. Default: the geometric mean of the bounds. */
    thresholdMs: z.number().positive().optional(),
    /** Subtracted per good run below the threshold. */
    stepMs: z.number().positive(),
  })
  .strict()
  .refine((o) => o.minMs <= o.maxMs, 'minMs must not exceed maxMs');

/**
 * Slow start, as TCP grows its window: the run rate doubles per good run up to a threshold,
 * then grows linearly; a failure halves the rate the threshold allows and starts over.
 * - good, interval > threshold: `interval ← max(threshold, interval / 2)`;
 * - good, interval ≤ threshold: `interval ← max(minMs, interval − stepMs)`;
 * - failed: `threshold ← min(maxMs, interval × 2)`, `interval ← maxMs`.
 *
 * @example
 * ```ts
 * const slow = new SlowStartInterval({ minMs: 1_000, maxMs: 64_000, thresholdMs: 8_000, stepMs: 1_000 });
 * // 64 s → 32 s → 16 s → 8 s → 7 s → 6 s … while runs succeed
 * ```
 */
export class SlowStartInterval implements IntervalPolicy {
  readonly kind = 'slow-start';
  private readonly options: z.output<typeof SlowStartOptionsSchema>;
  constructor(options: z.input<typeof SlowStartOptionsSchema>) {
    this.options = parseConfig(SlowStartOptionsSchema, options, 'slow start options');
  }
  initial(): IntervalState {
    const { minMs, maxMs, thresholdMs } = this.options;
    return { intervalMs: maxMs, thresholdMs: clamp(thresholdMs ?? Math.sqrt(minMs * maxMs), minMs, maxMs) };
  }
  next(state: IntervalState, outcome: RunOutcome): IntervalState {
    const { minMs, maxMs, stepMs } = this.options;
    const threshold = state.thresholdMs!;
    if (!outcome.ok) return { intervalMs: maxMs, thresholdMs: Math.min(maxMs, state.intervalMs * 2) };
    const intervalMs = state.intervalMs > threshold ? Math.max(threshold, state.intervalMs / 2) : Math.max(minMs, state.intervalMs - stepMs);
    return { intervalMs, thresholdMs: threshold };
  }
}
