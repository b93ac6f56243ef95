import type { BackoffPolicy, JobRunOptions } from './contract.js';

/** The backoff of a job whose retries name none: exponential from 1 s up to an hour, ±20 %. */
export const DEFAULT_BACKOFF: BackoffPolicy = { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 0.2 };

/**
 * The run options stored with a job when nothing is configured: one attempt, no timeout. Stored
 * options that cannot be read are taken as these.
 *
 * @example
 * ```ts
 * const job: NewJob = { ...fields, options: { ...DEFAULT_RUN_OPTIONS, attempts: 3 } };
 * ```
 */
export const DEFAULT_RUN_OPTIONS: JobRunOptions = { attempts: 1, backoff: DEFAULT_BACKOFF, timeoutMs: null };
