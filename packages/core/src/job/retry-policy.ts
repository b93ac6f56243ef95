import { z } from 'zod';
import type { BackoffPolicy, JobRunOptions } from '../storage/contract.js';
import { DEFAULT_BACKOFF, DEFAULT_RUN_OPTIONS } from '../storage/default-run-options.js';

const BackoffSchema = z
  .object({
    type: z.enum(['fixed', 'exponential']).default('exponential'),
    delayMs: z.number().int().nonnegative().default(1_000),
    maxDelayMs: z.number().int().positive().default(3_600_000),
    jitter: z.number().min(0).max(1).default(0.2),
  })
  .strict();

/**
 * Retries: a number of total attempts, or attempts with a backoff.
 * `{ attempts: 5, backoff: { type: 'exponential', delayMs: 500, jitter: 0.2 } }`.
 *
 * @example
 * ```ts
 * RetryOptionsSchema.parse(3); // 3
 * RetryOptionsSchema.parse({ attempts: 5 }); // { attempts: 5, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 3600000, jitter: 0.2 } }
 * ```
 */
export const RetryOptionsSchema = z.union([
  z.number().int().min(1).max(1_000_000),
  z
    .object({
      attempts: z.number().int().min(1).max(1_000_000).default(1),
      backoff: BackoffSchema.default({ type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 0.2 }),
    })
    .strict(),
]);

/**
 * How a job retries: `3`, or `{ attempts: 3, backoff: { type: 'fixed', delayMs: 2000 } }`.
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { attempts: 5, backoff: { type: 'exponential', delayMs: 500, maxDelayMs: 60_000 } };
 * const charge = queue.job({ name: 'charge', routes: ['payments'], retry }, async (orderId: string) => orderId);
 * ```
 */
export type RetryOptions = z.input<typeof RetryOptionsSchema>;

/**
 * Normalises parsed retry and timeout options into what is stored with a job.
 *
 * @example
 * ```ts
 * toRunOptions(3, 5_000); // { attempts: 3, backoff: { type: 'exponential', ... }, timeoutMs: 5000 }
 * ```
 */
export function toRunOptions(retry: z.output<typeof RetryOptionsSchema> | undefined, timeoutMs: number | undefined): JobRunOptions {
  if (retry === undefined) return { ...DEFAULT_RUN_OPTIONS, timeoutMs: timeoutMs ?? null };
  if (typeof retry === 'number') return { attempts: retry, backoff: DEFAULT_BACKOFF, timeoutMs: timeoutMs ?? null };
  return { attempts: retry.attempts, backoff: retry.backoff, timeoutMs: timeoutMs ?? null };
}

/**
 * The delay before the next attempt after `attempt` (1-based) failed:
 * `fixed` waits `delayMs`; `exponential` waits `delayMs · 2^(attempt-1)`, capped at `maxDelayMs`.
 * Jitter then spreads it uniformly by ±`jitter`, so retries of many jobs do not arrive in lockstep.
 *
 * @example
 * ```ts
 * retryDelay({ type: 'exponential', delayMs: 100, maxDelayMs: 10_000, jitter: 0 }, 3); // 400
 * ```
 */
export function retryDelay(backoff: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(base, backoff.maxDelayMs);
  const spread = capped * backoff.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(capped + spread));
}
