import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { DurationSchema, MAX_DELAY_MS, resolveWhen, type When } from '../delay.js';
import { TERMINAL_STATES, type JobRecord, type JobState } from '../storage/contract.js';
import type { JobStorage } from '../storage/roles/job-storage.js';
import type { AdminStorage } from '../storage/roles/admin-storage.js';
import { matchingJobs } from './job-listing.js';

/** What `queue.retryAll()` retries. */
export const RetryAllSchema = z
  .object({
    state: z.enum(['failed', 'cancelled']).default('failed'),
    name: z.string().min(1).optional(),
    /** Only jobs that ended before this instant (a Date or epoch ms). */
    finishedBefore: z.union([z.date(), z.number().finite().nonnegative()]).optional(),
  })
  .strict();

/**
 * `{ state?, name?, finishedBefore? }` for `queue.retryAll()`.
 *
 * @example
 * ```ts
 * const query: RetryAllQuery = { state: 'failed', name: 'charge', finishedBefore: Date.now() - 3_600_000 };
 * const retried = await queue.retryAll(query);
 * ```
 */
export type RetryAllQuery = z.input<typeof RetryAllSchema>;

const AgeSchema = z.union([z.number().finite().nonnegative().max(MAX_DELAY_MS), DurationSchema]);

/** What `queue.clean()` deletes. */
export const CleanSchema = z
  .object({
    state: z.enum(['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled']),
    /**
     * Only jobs that ended (or, waiting, were created) at least this long ago (ms or a duration), or
     * before this instant (a Date). Default 0.
     */
    olderThan: z.union([z.date(), AgeSchema]).default(0),
    /** At most this many. Default: no limit. */
    limit: z.number().int().positive().optional(),
  })
  .strict();

/**
 * `{ state, olderThan?, limit? }` for `queue.clean()`.
 *
 * @example
 * ```ts
 * const query: CleanQuery = { state: 'failed', olderThan: { days: 30 }, limit: 10_000 };
 * const removed = await queue.clean(query);
 * ```
 */
export type CleanQuery = z.input<typeof CleanSchema>;

/** The queue, job and backend an admin operation acts on. */
interface Target {
  backend: JobStorage & AdminStorage;
  queue: string;
}

/**
 * Runs a failed or cancelled job again with a fresh retry budget. Throws `JOB_NOT_FOUND` (also when
 * a concurrent removal got there first), or `INVALID_STATE` naming the state it found (also when a
 * concurrent retry got there first).
 */
export async function retryJob({ backend, queue }: Target, jobId: string): Promise<void> {
  const record = await requireJob(backend, queue, jobId);
  if (record.state === 'failed' || record.state === 'cancelled') {
    if ((await backend.retryJob(queue, jobId, { runAt: Date.now(), attempts: record.options.attempts })) > 0) return;
  }
  throw await refusal(backend, queue, jobId, 'retried: only failed or cancelled jobs can');
}

/** Retries every job that matches, a page at a time. Returns how many it retried. */
export async function retryAllJobs({ backend, queue }: Target, query: RetryAllQuery): Promise<number> {
  const parsed = parseInput(RetryAllSchema, query ?? {}, queue, 'retryAll');
  const before = parsed.finishedBefore === undefined ? Infinity : +parsed.finishedBefore;
  let retried = 0;
  for await (const batch of matchingJobs(backend, queue, { state: parsed.state, name: parsed.name })) {
    const due = batch.filter((job) => job.finishedAt !== null && job.finishedAt < before);
    const counts = await Promise.all(due.map((job) => backend.retryJob(queue, job.id, { runAt: Date.now(), attempts: job.options.attempts })));
    retried += counts.filter((n) => n > 0).length;
  }
  return retried;
}

/** Runs a scheduled job now. Throws `INVALID_STATE` unless it is scheduled, `JOB_NOT_FOUND` once removed. */
export async function promoteJob({ backend, queue }: Target, jobId: string): Promise<void> {
  const record = await requireJob(backend, queue, jobId);
  if (record.state === 'scheduled' && (await backend.reschedule(queue, jobId, Date.now()))) return;
  throw await refusal(backend, queue, jobId, 'promoted: only scheduled jobs can');
}

/** Deletes a job with its deliveries and logs. Throws `INVALID_STATE` while it runs. */
export async function removeJob({ backend, queue }: Target, jobId: string): Promise<void> {
  const record = await requireJob(backend, queue, jobId);
  if (record.state !== 'running' && (await backend.removeJobs(queue, [jobId])).length === 1) return;
  const now = await backend.getJob(queue, jobId);
  if (!now) return; // Removed meanwhile by someone else, or by retention: gone either way.
  throw invalidState(queue, jobId, now.state, 'removed while it runs; cancel it first');
}

/** Deletes jobs in one state that are older than `olderThan`, in batches. Returns how many. */
export async function cleanJobs({ backend, queue }: Target, query: CleanQuery): Promise<number> {
  const parsed = parseInput(CleanSchema, query, queue, 'clean');
  if (parsed.state === 'running') {
    throw new SkqError('INVALID_STATE', 'clean() cannot delete running jobs; cancel them first', { context: { queue, field: 'state' } });
  }
  const now = Date.now();
  // A Date is the instant itself ("finished before it"); an age counts back from now.
  const cutoff = parsed.olderThan instanceof Date ? parsed.olderThan.getTime() - 1 : now - (resolveWhen(parsed.olderThan as When, now, 'olderThan') - now);
  const limit = parsed.limit ?? Infinity;
  let removed = 0;
  for await (const batch of matchingJobs(backend, queue, { state: parsed.state })) {
    const old = batch.filter((job) => (TERMINAL_STATES.has(job.state) ? (job.finishedAt ?? job.createdAt) : job.createdAt) <= cutoff);
    const ids = old.slice(0, limit - removed).map((job) => job.id);
    if (ids.length) removed += (await backend.removeJobs(queue, ids)).length;
    if (removed >= limit) break;
  }
  return removed;
}

/**
 * Moves a job that has not started. Without `when`, to now plus the delay it was fired with, so a
 * delayed job waits its whole delay again from now.
 */
export async function rescheduleJob({ backend, queue }: Target, jobId: string, when?: When): Promise<void> {
  const record = await requireJob(backend, queue, jobId);
  const now = Date.now();
  const runAt = when === undefined ? now + (record.options.delayMs ?? 0) : resolveWhen(when, now, 'when');
  if (!(await backend.reschedule(queue, jobId, runAt))) throw await refusal(backend, queue, jobId, 'rescheduled: it is no longer waiting');
}

/** A job's record, or `JOB_NOT_FOUND`. */
export async function requireJob(backend: JobStorage & AdminStorage, queue: string, jobId: unknown): Promise<JobRecord> {
  if (typeof jobId !== 'string' || jobId.length === 0) throw new SkqError('ARGS_INVALID', 'jobId must be a non-empty string', { context: { queue, field: 'jobId' } });
  const record = await backend.getJob(queue, jobId);
  if (!record) throw notFound(queue, jobId);
  return record;
}

/**
 * Why a write that found the job earlier changed nothing, from the job as it is now: the record read
 * before the write is stale by then, and a job removed meanwhile is `JOB_NOT_FOUND`, not its old state.
 */
async function refusal(backend: JobStorage & AdminStorage, queue: string, jobId: string, why: string): Promise<SkqError> {
  const now = await backend.getJob(queue, jobId);
  if (!now) return notFound(queue, jobId);
  return invalidState(queue, jobId, now.state, why);
}

function notFound(queue: string, jobId: string): SkqError {
  return new SkqError('JOB_NOT_FOUND', `job ${jobId} not found in queue "${queue}"`, { context: { jobId, queue } });
}

function invalidState(queue: string, jobId: string, state: JobState, why: string): SkqError {
  return new SkqError('INVALID_STATE', `job ${jobId} is ${state} and cannot be ${why}`, { context: { jobId, queue, state } });
}

function parseInput<S extends z.ZodType>(schema: S, input: unknown, queue: string, operation: string): z.output<S> {
  const parsed = safeParseInput(schema, input);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid ${operation}() query: ${describeIssues(parsed.error.issues, 'query')}`, { cause: parsed.error, context: { queue } });
  }
  return parsed.data;
}
