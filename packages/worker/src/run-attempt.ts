import {
  RateLimited,
  RetryAfter,
  SkqError,
  UnrecoverableError,
  type JobContext,
  type LogMeta,
  type SerializedError,
} from '@skq/core';
import {
  CONJUNCTION_JOB,
  chargedAttempts,
  fitError,
  formatLogParts,
  resultTooLarge,
  retryDelay,
  runInJobContext,
  serializeError,
  validateArgs,
  type ClaimedDelivery,
  type JobCall,
  type JobRegistry,
  type LogSink,
  type RunnableJob,
} from '@skq/core/backend';
import type { AttemptControl } from './attempt-control.js';

/** How one attempt ended, and what the worker should tell the backend. */
export type AttemptOutcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'failed'; error: SerializedError; retryAt: number | null; rateLimited?: boolean }
  | { kind: 'cancelled'; error: SerializedError };

/** Where a running handler's progress reports go. */
export interface ProgressSink {
  report(value: unknown): void;
}

/** What {@link runAttempt} needs besides the delivery. */
export interface AttemptOptions {
  registry: JobRegistry;
  workerId: string;
  /** Aborting it ends the attempt: with a CANCELLED reason it is cancelled, with INTERRUPTED it is queued again. */
  controller: AttemptControl;
  sink: LogSink;
  /** Receives each checked progress report; the worker coalesces and stores them. */
  progress?: ProgressSink;
  /**
   * The most bytes of JSON the store keeps for the outcome (see `valueLimit`): a larger result
   * fails the attempt once with `RESULT_TOO_LARGE`, and an error is cut to fit. Default: no limit
   * beyond skunq's own caps on error texts.
   */
  maxOutcomeBytes?: number;
}

/**
 * Runs one attempt of a claimed delivery: finds the job by name, checks its arguments, runs it
 * (each part in turn for a conjunction) under its timeout and signal, and decides on a retry.
 * It never throws: whatever the handler does becomes an {@link AttemptOutcome}.
 *
 * @example
 * ```ts
 * const outcome = await runAttempt(delivery, { registry, workerId, controller: new AttemptControl(), sink: (line) => logs.push(line) });
 * if (outcome.kind === 'succeeded') await backend.complete(delivery.queue, leaseOf(delivery), outcome.result);
 * else await backend.fail(delivery.queue, leaseOf(delivery), { error: outcome.error, retryAt: outcome.kind === 'failed' ? outcome.retryAt : null, cancelled: outcome.kind === 'cancelled' });
 * ```
 */
export function runAttempt(delivery: ClaimedDelivery, options: AttemptOptions): Promise<AttemptOutcome> {
  return new Promise((resolve) => startAttempt(delivery, options, resolve));
}

/**
 * {@link runAttempt} with a callback: `ended` is called once, with the outcome. It runs once per job,
 * so it makes one object and the reactions on the handler's promise: with a job context active,
 * every promise costs Node's async hooks, and every closure the garbage collector.
 *
 * @example
 * ```ts
 * startAttempt(delivery, { registry, workerId, controller, sink }, (outcome) => console.log(outcome.kind));
 * ```
 */
export function startAttempt(delivery: ClaimedDelivery, options: AttemptOptions, ended: (outcome: AttemptOutcome) => void): void {
  new Attempt(delivery, options, ended).start();
}

/** One attempt on its way to its outcome (see {@link startAttempt}). */
class Attempt {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  /** While the handler's `then` is being called: a thenable that calls back before it returns is not in a reaction of its own. */
  private calling = false;

  constructor(
    private readonly delivery: ClaimedDelivery,
    private readonly options: AttemptOptions,
    private readonly ended: (outcome: AttemptOutcome) => void,
  ) {}

  start(): void {
    const { delivery, options } = this;
    const { controller } = options;
    const timeoutMs = delivery.options.timeoutMs;
    if (timeoutMs !== null) {
      this.timer = setTimeout(() => {
        controller.abort(new SkqError('TIMEOUT', `job "${delivery.name}" timed out after ${timeoutMs} ms`, { context: contextOf(delivery) }));
      }, timeoutMs);
    }
    // An attempt aborted before it starts (a rough stop, a cancel) never calls the handler.
    if (controller.aborted) return this.failed(controller.reason, false);
    // Settles as soon as the attempt is aborted: a handler may ignore its signal.
    controller.onAbort((reason) => this.failed(reason, false));
    let work: unknown;
    try {
      const context = new AttemptContext(delivery, options);
      work = runInJobContext(context, options.sink, () => execute(delivery, options.registry, context, controller));
    } catch (err) {
      return this.failed(err, false);
    }
    // A value that is no thenable is the result itself; a hostile one (a `then` that throws) fails the attempt.
    let then: unknown;
    this.calling = true;
    try {
      then = typeof work === 'object' || typeof work === 'function' ? (work as { then?: unknown } | null)?.then : undefined;
      if (typeof then === 'function') {
        then.call(
          work,
          (value: unknown) => this.returned(value, !this.calling),
          (err: unknown) => this.failed(err, !this.calling),
        );
      }
    } catch (err) {
      return this.failed(err, false);
    } finally {
      this.calling = false;
    }
    if (typeof then !== 'function') this.returned(work, false);
  }

  private returned(value: unknown, inReaction: boolean): void {
    if (this.settled) return;
    let outcome: AttemptOutcome;
    try {
      outcome = succeeded(this.delivery, value, this.options.maxOutcomeBytes);
    } catch (err) {
      return this.failed(err, inReaction);
    }
    this.end(outcome, inReaction);
  }

  private failed(err: unknown, inReaction: boolean): void {
    if (this.settled) return;
    this.end(fitOutcome(decide(this.delivery, err), this.options.maxOutcomeBytes), inReaction);
  }

  /**
   * The handler's own reaction hands its outcome on at once; any other (an abort, a value returned
   * without a promise, a throw before it ran) in a microtask, as an await would: the worker's next
   * steps never run inside whoever aborted, nor in the stack that started the attempt.
   */
  private end(outcome: AttemptOutcome, inReaction: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (inReaction) this.ended(outcome);
    else queueMicrotask(() => this.ended(outcome));
  }
}

/** A succeeded outcome, its result as stored; throws what fails the attempt instead. */
function succeeded(delivery: ClaimedDelivery, value: unknown, maxOutcomeBytes: number | undefined): AttemptOutcome {
  const json = jsonOf(value);
  // Refused here, once, rather than by the store after the handler ran: a refused write was retried, then the lease expired and the job ran again.
  // (Measured only when it may be too large: a UTF-16 unit is at most 3 bytes of UTF-8.)
  const refused = maxOutcomeBytes !== undefined && json.length * 3 > maxOutcomeBytes ? resultTooLarge(json, maxOutcomeBytes, contextOf(delivery)) : null;
  if (refused) return { kind: 'failed', error: fitError(refused.toJSON(), maxOutcomeBytes), retryAt: null };
  return { kind: 'succeeded', result: JSON.parse(json) as unknown };
}

/**
 * The context of one attempt. A class, so that what few handlers use (the signal, the progress
 * reporter) costs nothing per attempt until they use it; `log` stays an own function, so it can be
 * taken off the context (`const { log } = currentJob()`).
 */
class AttemptContext implements JobContext {
  readonly jobId: string;
  readonly deliveryId: string;
  readonly queue: string;
  readonly route: string;
  readonly workerId: string;
  readonly name: string;
  readonly attempt: number;
  readonly group: string | null;
  readonly log: (...parts: unknown[]) => void;

  constructor(
    private readonly delivery: ClaimedDelivery,
    private readonly options: AttemptOptions,
  ) {
    this.jobId = delivery.jobId;
    this.deliveryId = delivery.id;
    this.queue = delivery.queue;
    this.route = delivery.route;
    this.workerId = options.workerId;
    this.name = delivery.name;
    this.attempt = delivery.attempts;
    this.group = delivery.group ?? null;
    this.log = (...parts: unknown[]) => options.sink({ stream: 'ctx', line: formatLogParts(parts) });
  }

  get signal(): AbortSignal {
    return this.options.controller.signal;
  }

  get progress(): (value: number | object) => void {
    return (value: number | object) => this.options.progress?.report(checkProgress(value, this.delivery));
  }

  rateLimitGroup(ms: number): never {
    throw new RateLimited(ms);
  }
}

/** The largest progress report, as JSON. */
const MAX_PROGRESS_BYTES = 16_384;

/** A progress value as stored: a finite number or a JSON object of at most 16 KiB; else ARGS_INVALID. */
function checkProgress(value: unknown, delivery: ClaimedDelivery): unknown {
  const context = { ...contextOf(delivery), field: 'progress' };
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw new SkqError('ARGS_INVALID', `ctx.progress() takes a finite number or an object, not ${value}`, { context });
  }
  if (typeof value !== 'object' || value === null) throw new SkqError('ARGS_INVALID', `ctx.progress() takes a number or an object, not ${value === null ? 'null' : typeof value}`, { context });
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new SkqError('ARGS_INVALID', `ctx.progress() takes JSON: ${serializeError(cause).message}`, { cause, context });
  }
  if (json === undefined || json.length > MAX_PROGRESS_BYTES) throw new SkqError('ARGS_INVALID', `ctx.progress() takes at most ${MAX_PROGRESS_BYTES} bytes of JSON`, { context });
  return JSON.parse(json) as unknown;
}

/** Runs the job: its value or a promise of it. A conjunction runs its parts one after another. */
function execute(delivery: ClaimedDelivery, registry: JobRegistry, context: JobContext, controller: AttemptControl): unknown {
  if (delivery.name !== CONJUNCTION_JOB) {
    const job = resolve(registry, delivery, delivery.name);
    return job.run(validateArgs(job.name, delivery.args, job.argsSchema, false), context);
  }
  return executeParts(delivery, registry, context, controller);
}

async function executeParts(delivery: ClaimedDelivery, registry: JobRegistry, context: JobContext, controller: AttemptControl): Promise<unknown[]> {
  const parts = delivery.args[0] as JobCall[];
  // Resolve and check every part first, so a conjunction with a bad part runs none of them.
  const runnables = parts.map((part) => {
    const job = resolve(registry, delivery, part.name);
    return { job, args: validateArgs(part.name, part.args, job.argsSchema, false) };
  });
  const results: unknown[] = [];
  for (const [index, { job, args }] of runnables.entries()) {
    // A lease found lost here aborts the attempt (the check does that), so the part is not started.
    if (index > 0 && controller.leaseCheck && !controller.aborted) await controller.leaseCheck(`part ${index + 1} of ${parts.length}`);
    if (controller.aborted) throw controller.reason;
    try {
      results.push(await job.run(args, { ...context, name: job.name }));
    } catch (err) {
      prefixMessage(err, `part ${index + 1} of ${parts.length} ("${job.name}") failed: `);
      throw err;
    }
    context.log(`part ${index + 1} of ${parts.length} ("${job.name}") succeeded`);
  }
  return results;
}

/** Prefixes an error's message where it can be changed; a frozen or hostile error is left as it is. */
function prefixMessage(err: unknown, prefix: string): void {
  try {
    if (err instanceof Error) err.message = `${prefix}${err.message}`;
  } catch {
    // The error stays as thrown.
  }
}

function resolve(registry: JobRegistry, delivery: ClaimedDelivery, name: string): RunnableJob {
  const job = registry.get(delivery.queue, name);
  if (job) return job;
  const known = registry.names(delivery.queue);
  throw new SkqError('UNKNOWN_JOB', `no job named "${name}" is defined in this worker (known: ${known.join(', ') || 'none'})`, {
    context: { ...contextOf(delivery), jobName: name },
  });
}

const NEVER_RETRIED = new Set(['UNKNOWN_JOB', 'ARGS_INVALID', 'FORBIDDEN']);

/** Decides how a failed attempt ends. Never throws, whatever was thrown (a Proxy's traps may). */
function decide(delivery: ClaimedDelivery, err: unknown): AttemptOutcome {
  const error = serializeError(err);
  const kind = classify(err);
  if (kind === 'cancelled') return { kind: 'cancelled', error };
  // A rough shutdown interrupts the attempt: the job goes back to the queue at once.
  if (kind === 'interrupted') return { kind: 'failed', error, retryAt: Date.now() };
  // Not charged: it goes back whatever its attempts (the store raises its cap by one).
  if (kind === 'rate-limited') return { kind: 'failed', error, retryAt: Date.now() + (err as RateLimited).delayMs, rateLimited: true };
  const attempt = chargedAttempts(delivery);
  if (kind === 'final' || attempt >= delivery.maxAttempts) return { kind: 'failed', error, retryAt: null };
  if (kind === 'retry-after') return { kind: 'failed', error, retryAt: Date.now() + (err as RetryAfter).delayMs };
  return { kind: 'failed', error, retryAt: Date.now() + retryDelay(delivery.options.backoff, attempt) };
}

function classify(err: unknown): 'cancelled' | 'interrupted' | 'final' | 'rate-limited' | 'retry-after' | 'retryable' {
  try {
    if (err instanceof RateLimited) return 'rate-limited';
    if (err instanceof RetryAfter) return 'retry-after';
    if (err instanceof SkqError && err.code === 'CANCELLED') return 'cancelled';
    if (err instanceof SkqError && err.code === 'INTERRUPTED') return 'interrupted';
    if (err instanceof UnrecoverableError || (err instanceof SkqError && NEVER_RETRIED.has(err.code))) return 'final';
    return 'retryable';
  } catch {
    return 'retryable';
  }
}

/** The result as JSON (`undefined` is `null`); INVALID_STATE if it has none. */
function jsonOf(value: unknown): string {
  if (value === undefined) return 'null';
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new SkqError('INVALID_STATE', `the job's result cannot be serialized: ${serializeError(cause).message}`, { cause });
  }
  if (json === undefined) throw new SkqError('INVALID_STATE', `the job's result cannot be serialized: JSON has no value for a ${typeof value}`);
  return json;
}

/** A failed or cancelled outcome whose error is cut to what the store keeps. */
function fitOutcome(outcome: AttemptOutcome, maxBytes: number | undefined): AttemptOutcome {
  return outcome.kind === 'succeeded' ? outcome : { ...outcome, error: fitError(outcome.error, maxBytes) };
}

/**
 * The ids an error about this delivery carries in its context.
 *
 * @example
 * ```ts
 * throw new SkqError('LEASE_LOST', `the lease of ${delivery.id} ran out`, { context: contextOf(delivery) });
 * ```
 */
export function contextOf(delivery: ClaimedDelivery): { jobId: string; deliveryId: string; queue: string; route: string; jobName: string } {
  return { jobId: delivery.jobId, deliveryId: delivery.id, queue: delivery.queue, route: delivery.route, jobName: delivery.name };
}

/**
 * The ids a warning about this delivery carries in its meta.
 *
 * @example
 * ```ts
 * warn(`could not store the progress of job ${delivery.jobId}`, { ...about(delivery), err });
 * ```
 */
export function about(delivery: ClaimedDelivery): LogMeta {
  return { jobId: delivery.jobId, deliveryId: delivery.id };
}
