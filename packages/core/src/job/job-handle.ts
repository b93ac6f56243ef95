import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import type { JobRecord, JobState, LogLine } from '../storage/contract.js';

// timeoutMs is the waiter's to check (its refusal names timeoutMs); an unknown key is a typo.
const ResultOptionsSchema = z.object({ timeoutMs: z.unknown().optional() }).strict();

/**
 * What a {@link JobHandle} reads through: a queue.
 *
 * @example
 * ```ts
 * const reader: JobReader = queue;
 * const handle = new JobHandle<number>(jobId, reader);
 * ```
 */
export interface JobReader {
  readonly name: string;
  getRecord(jobId: string): Promise<JobRecord | null>;
  /** Resolves with the record once the job has ended; rejects with TIMEOUT after `timeoutMs`. */
  waitForEnd(jobId: string, timeoutMs?: number): Promise<JobRecord>;
  cancel(jobId: string): Promise<boolean>;
  logs(jobId: string): Promise<LogLine[]>;
}

/**
 * One delivery of a job as {@link JobHandle.deliveries} reports it.
 *
 * @example
 * ```ts
 * for (const d of await handle.deliveries()) console.log(d.route, d.workerId, d.state, d.error?.message);
 * ```
 */
export interface DeliveryInfo {
  id: string;
  route: string;
  workerId: string | null;
  state: JobState;
  attempts: number;
  result: unknown;
  error: { message: string; stack?: string | undefined; code?: string | undefined } | null;
}

/**
 * A fired job: its id, and ways to read its state and result.
 *
 * @example
 * ```ts
 * const handle = await add.fire(4, 5);
 * console.log(handle.id, await handle.state()); // '…', 'queued'
 * console.log(await handle.result({ timeoutMs: 5_000 })); // 9
 * ```
 */
export class JobHandle<Result = unknown> {
  constructor(
    readonly id: string,
    private readonly reader: JobReader,
    /** True when firing returned an already pending job with the same dedupe key. */
    readonly deduped = false,
  ) {}

  /** The job's stored record, with its deliveries. */
  async info(): Promise<JobRecord> {
    const record = await this.reader.getRecord(this.id);
    if (!record) throw new SkqError('JOB_NOT_FOUND', `job ${this.id} not found`, { context: { jobId: this.id, queue: this.reader.name } });
    return record;
  }

  /** The job's current state. */
  async state(): Promise<JobState> {
    return (await this.info()).state;
  }

  /**
   * Waits for the job to end and resolves to the handler's return value (for a job with several
   * deliveries, the first delivery's; see {@link JobHandle.deliveries} for all). Rejects with
   * `JOB_FAILED` carrying the remote message and stack, `CANCELLED`, or `TIMEOUT` after `timeoutMs`.
   */
  async result(options: { timeoutMs?: number } = {}): Promise<Result> {
    const parsed = safeParseInput(ResultOptionsSchema, options);
    if (!parsed.success) {
      throw new SkqError('ARGS_INVALID', `invalid result() options: ${describeIssues(parsed.error.issues, 'options')} (result() takes { timeoutMs? })`, {
        cause: parsed.error,
        context: { jobId: this.id, queue: this.reader.name, field: 'options' },
      });
    }
    const record = await this.reader.waitForEnd(this.id, options.timeoutMs);
    const context = { jobId: this.id, queue: this.reader.name, jobName: record.name };
    if (record.state === 'succeeded') return record.deliveries[0]?.result as Result;
    const failed = record.deliveries.find((d) => d.state === record.state && d.error) ?? record.deliveries[0];
    const error = failed?.error;
    if (record.state === 'cancelled') {
      throw new SkqError('CANCELLED', error?.message ?? `job ${this.id} was cancelled`, { context });
    }
    throw new SkqError('JOB_FAILED', `job "${record.name}" (${this.id}) failed: ${error?.message ?? 'unknown error'}`, {
      context: { ...context, remoteCode: error?.code, route: failed?.route },
      remoteStack: error?.stack,
    });
  }

  /**
   * The progress the handler last reported with `ctx.progress()`, or null.
   *
   * @example
   * ```ts
   * console.log(await handle.progress()); // 40, or { done: 4, of: 10 }
   * ```
   */
  async progress(): Promise<unknown> {
    return (await this.info()).progress;
  }

  /** Each delivery's route, worker, state and result. */
  async deliveries(): Promise<DeliveryInfo[]> {
    const record = await this.info();
    return record.deliveries.map((d) => ({
      id: d.id,
      route: d.route,
      workerId: d.workerId,
      state: d.state,
      attempts: d.attempts,
      result: d.result,
      error: d.error,
    }));
  }

  /** The handler's captured output and `ctx.log` lines. */
  logs(): Promise<LogLine[]> {
    return this.reader.logs(this.id);
  }

  /** Cancels the job: queued deliveries at once, running ones through their AbortSignal. */
  cancel(): Promise<boolean> {
    return this.reader.cancel(this.id);
  }
}
