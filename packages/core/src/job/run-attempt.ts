import { RetryAfter, SkqError, UnrecoverableError, serializeError, type SerializedError } from '../errors.js';
import type { ClaimedDelivery } from '../storage/contract.js';
import { formatLogParts, runInJobContext, type JobContext, type LogSink } from './context.js';
import { AttemptControl } from './attempt-control.js';
import { validateArgs } from './job-args.js';
import { CONJUNCTION_JOB } from './names.js';
import type { JobCall } from './invocation.js';
import type { JobRegistry, RunnableJob } from './registry.js';
import { retryDelay } from './retry-policy.js';

/** How one attempt ended, and what the worker should tell the backend. */
export type AttemptOutcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'failed'; error: SerializedError; retryAt: number | null }
  | { kind: 'cancelled'; error: SerializedError };

/** What {@link runAttempt} needs besides the delivery. */
export interface AttemptOptions {
  registry: JobRegistry;
  workerId: string;
  /** Aborting it ends the attempt: with a CANCELLED reason it is cancelled, with INTERRUPTED it is queued again. */
  controller: AttemptControl;
  sink: LogSink;
}

/**
 * Runs one attempt of a claimed delivery: finds the job by name, checks its arguments, runs it
 * (each part in turn for a conjunction) under its timeout and signal, and decides on a retry.
 * It never throws: whatever the handler does becomes an {@link AttemptOutcome}.
 *
 * @example
 * ```ts
 * const outcome = await runAttempt(delivery, { registry, workerId, controller: new AttemptControl(), sink });
 * if (outcome.kind === 'succeeded') await backend.complete(delivery.queue, delivery.id, workerId, outcome.result);
 * ```
 */
export async function runAttempt(delivery: ClaimedDelivery, options: AttemptOptions): Promise<AttemptOutcome> {
  const { controller } = options;
  const timeoutMs = delivery.options.timeoutMs;
  const timer =
    timeoutMs === null
      ? undefined
      : setTimeout(() => {
          controller.abort(new SkqError('TIMEOUT', `job "${delivery.name}" timed out after ${timeoutMs} ms`, { context: contextOf(delivery) }));
        }, timeoutMs);
  const context: JobContext = {
    jobId: delivery.jobId,
    deliveryId: delivery.id,
    queue: delivery.queue,
    route: delivery.route,
    workerId: options.workerId,
    name: delivery.name,
    attempt: delivery.attempts,
    get signal() {
      return controller.signal;
    },
    log: (...parts: unknown[]) => options.sink({ stream: 'ctx', line: formatLogParts(parts) }),
  };
  try {
    const work = runInJobContext(context, options.sink, () => execute(delivery, options.registry, context));
    const result = await abortable(work, controller);
    return { kind: 'succeeded', result: jsonSafe(result) };
  } catch (err) {
    return decide(delivery, err);
  } finally {
    clearTimeout(timer);
  }
}

async function execute(delivery: ClaimedDelivery, registry: JobRegistry, context: JobContext): Promise<unknown> {
  if (delivery.name !== CONJUNCTION_JOB) {
    const job = resolve(registry, delivery, delivery.name);
    return job.run(validateArgs(job.name, delivery.args, job.argsSchema, false), context);
  }
  const parts = delivery.args[0] as JobCall[];
  // Resolve and check every part first, so a conjunction with a bad part runs none of them.
  const runnables = parts.map((part) => {
    const job = resolve(registry, delivery, part.name);
    return { job, args: validateArgs(part.name, part.args, job.argsSchema, false) };
  });
  const results: unknown[] = [];
  for (const [index, { job, args }] of runnables.entries()) {
    try {
      results.push(await job.run(args, { ...context, name: job.name }));
    } catch (err) {
      if (err instanceof Error) err.message = `part ${index + 1} of ${parts.length} ("${job.name}") failed: ${err.message}`;
      throw err;
    }
    context.log(`part ${index + 1} of ${parts.length} ("${job.name}") succeeded`);
  }
  return results;
}

function resolve(registry: JobRegistry, delivery: ClaimedDelivery, name: string): RunnableJob {
  const job = registry.get(delivery.queue, name);
  if (job) return job;
  const known = registry.names(delivery.queue);
  throw new SkqError('UNKNOWN_JOB', `no job named "${name}" is defined in this worker (known: ${known.join(', ') || 'none'})`, {
    context: { ...contextOf(delivery), jobName: name },
  });
}

/** Settles with the handler, or rejects as soon as the attempt is aborted (a handler may ignore its signal). */
function abortable<T>(work: Promise<T>, control: AttemptControl): Promise<T> {
  if (control.aborted) return Promise.reject(control.reason);
  return new Promise<T>((resolve, reject) => {
    control.onAbort(reject);
    work.then(resolve, reject);
  });
}

const NEVER_RETRIED = new Set(['UNKNOWN_JOB', 'ARGS_INVALID', 'FORBIDDEN']);

function decide(delivery: ClaimedDelivery, err: unknown): AttemptOutcome {
  const error = serializeError(err);
  if (err instanceof SkqError && err.code === 'CANCELLED') return { kind: 'cancelled', error };
  // A rough shutdown interrupts the attempt: it counts, but the job goes back to the queue.
  if (err instanceof SkqError && err.code === 'INTERRUPTED') return { kind: 'failed', error, retryAt: Date.now() };
  const attemptsLeft = delivery.attempts < delivery.maxAttempts;
  if (err instanceof UnrecoverableError || (err instanceof SkqError && NEVER_RETRIED.has(err.code)) || !attemptsLeft) {
    return { kind: 'failed', error, retryAt: null };
  }
  if (err instanceof RetryAfter) return { kind: 'failed', error, retryAt: Date.now() + Math.max(0, err.delayMs) };
  return { kind: 'failed', error, retryAt: Date.now() + retryDelay(delivery.options.backoff, delivery.attempts) };
}

function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (cause) {
    throw new SkqError('INVALID_STATE', `the job's result cannot be serialized: ${(cause as Error).message}`, { cause });
  }
}

function contextOf(delivery: ClaimedDelivery) {
  return { jobId: delivery.jobId, deliveryId: delivery.id, queue: delivery.queue, route: delivery.route, jobName: delivery.name };
}
