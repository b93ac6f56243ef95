import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues, describeValue, serializeError } from '../errors.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../storage/contract.js';
import { WhenSchema } from '../delay.js';
import { RetentionSchema } from '../storage/retention.js';
import type { JobRunOptions } from '../storage/contract.js';
import type { JobHandle } from './job-handle.js';
import { GroupKeySchema } from '../storage/group-records.js';
import { JobIdSchema } from './job-id.js';
import { CONJUNCTION_JOB, NameSchema, RoutesSchema } from './names.js';

/**
 * Per-fire options: they override the job's defaults for this one job.
 *
 * @example
 * ```ts
 * FireOptionsSchema.parse({ priority: 5, at: { minutes: 10 } });
 * FireOptionsSchema.safeParse({ priorty: 5 }).success; // false: unknown key
 * ```
 */
export const FireOptionsSchema = z
  .object({
    /** Higher runs first. Default: the job's priority, else 0. */
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
    /** While a job with this key is pending, firing it again returns that job. */
    dedupeKey: z.string().min(1).max(512).optional(),
    /** Run no earlier than this: a Date, ms from now, or `{ days, hours, minutes, seconds, millis }`. */
    at: WhenSchema.optional(),
    /** Deliver to these routes instead of the job's own. */
    routes: RoutesSchema.optional(),
    /**
     * The job's id instead of a random one. Firing an id that is stored already returns that job
     * and enqueues nothing, so a producer that retries (or replays an event) never duplicates work.
     */
    jobId: JobIdSchema.optional(),
    /**
     * The job's group, instead of the one its definition computes: the limits and fair turns it
     * obeys (`queue.setGroupLimits`). A backend with groups only.
     */
    group: GroupKeySchema.optional(),
    /** What to keep of this job once it succeeded, instead of the queue's setting: `true`, `N` or `{ count, ageMs }`. */
    removeOnComplete: RetentionSchema.optional(),
    /** What to keep of this job once it failed or was cancelled, instead of the queue's setting. */
    removeOnFail: RetentionSchema.optional(),
    /**
     * Enqueue inside this transaction of yours (a backend with `capabilities.transactionalEnqueue`:
     * PostgreSQL takes a node-postgres client inside BEGIN): the job exists if and only if it commits.
     */
    tx: z
      .custom<{ query: (...args: never[]) => unknown }>((v) => typeof (v as { query?: unknown } | null)?.query === 'function', 'must be a database client inside a transaction (with a query() method)')
      .optional(),
  })
  .strict();

/**
 * Options for one fire: `{ priority, dedupeKey, at, routes, jobId, group, removeOnComplete, removeOnFail, tx }`.
 *
 * @example
 * ```ts
 * const options: FireOptions = { jobId: `invoice-${orderId}`, at: { minutes: 10 }, removeOnComplete: true };
 * await queue.push(sendInvoice.with(orderId), options);
 * ```
 */
export type FireOptions = z.input<typeof FireOptionsSchema>;

/**
 * Anything that can put an {@link Invocation} on a queue.
 *
 * @example
 * ```ts
 * // A queue is one; this one raises the priority of everything fired through it.
 * const urgent: InvocationTarget = { push: (job, options) => queue.push(job, { ...options, priority: 100 }) };
 * ```
 */
export interface InvocationTarget {
  push(job: Invocable, options?: FireOptions): Promise<JobHandle>;
}

/**
 * Anything that can become an {@link Invocation}: a bound function job, a JobMixin instance, a conjunction.
 *
 * @example
 * ```ts
 * const jobs: Invocable[] = [add.with(1, 2), new SayHello(), add.with(3, 4).and(new SayHello())];
 * await queue.pushMany(jobs);
 * ```
 */
export interface Invocable {
  toInvocation(): Invocation;
}

/**
 * One part of a conjunction as stored: a job name and its arguments.
 *
 * @example
 * ```ts
 * const calls: readonly JobCall[] = add.with(4, 5).and(add.with(1, 2)).parts!;
 * // [{ name: 'add', args: [4, 5] }, { name: 'add', args: [1, 2] }]
 * ```
 */
export interface JobCall {
  name: string;
  args: unknown[];
}

/**
 * The defaults a job definition carries into each invocation.
 *
 * @example
 * ```ts
 * const defaults: InvocationDefaults = { routes: ['foo'], priority: 0, runOptions: { ...DEFAULT_RUN_OPTIONS, timeoutMs: 5_000 } };
 * await new Invocation('add', [4, 5], defaults, queue).fire();
 * ```
 */
export interface InvocationDefaults {
  routes: string[];
  priority: number;
  runOptions: JobRunOptions;
  /** The group its definition computed from the arguments, if any. */
  group?: string;
}

/**
 * A job with its arguments bound, ready to fire or to conjoin.
 *
 * @example
 * ```ts
 * const both = add.with(4, 5).and(new SayHello());
 * await queue.push(both);
 * ```
 */
export class Invocation implements Invocable {
  constructor(
    readonly name: string,
    readonly args: unknown[],
    readonly defaults: InvocationDefaults,
    /** The queue a function job was defined on, so `fire()` needs no queue. */
    readonly target?: InvocationTarget,
    /** The parts, when this is a conjunction. */
    readonly parts?: readonly JobCall[],
  ) {}

  toInvocation(): Invocation {
    return this;
  }

  /**
   * One compound job that runs this job, then `next`, on one worker, stopping at the first failure.
   * It keeps this job's routes, priority and retry settings.
   */
  and(next: Invocable): Invocation {
    const other = invocationOf(next, 'and()');
    const parts = [...callsOf(this), ...callsOf(other)];
    return new Invocation(CONJUNCTION_JOB, [parts], this.defaults, this.target ?? other.target, parts);
  }

  /** The same invocation delivered to other routes. */
  on(...routes: string[]): Invocation {
    const parsed = safeParseInput(RoutesSchema, routes);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid routes: ${describeIssues(parsed.error.issues, 'routes')}`, { context: { field: 'routes' } });
    return new Invocation(this.name, this.args, { ...this.defaults, routes: parsed.data }, this.target, this.parts);
  }

  /** Fires on the queue the job was defined on. */
  fire(options?: FireOptions): Promise<JobHandle> {
    if (!this.target) {
      throw new SkqError('INVALID_STATE', `job "${this.name}" is not bound to a queue: use queue.push(job)`, {
        context: { jobName: this.name },
      });
    }
    return this.target.push(this, options);
  }
}

/**
 * The invocation of anything a caller passes as a job, or `ARGS_INVALID` saying what it should
 * have been (plain-JavaScript callers can pass anything).
 *
 * @example
 * ```ts
 * const inv = invocationOf(add.with(1, 2), 'push()');
 * ```
 */
export function invocationOf(job: unknown, where: string): Invocation {
  const refuse = (why: string, cause?: unknown) =>
    new SkqError('ARGS_INVALID', `${where} takes a job: fn.with(...args), a JobMixin instance or a conjunction, ${why}`, { cause, context: { field: 'job' } });
  if (typeof job !== 'object' || job === null) throw refuse(`not ${job === null ? 'null' : typeof job}`);
  let invocation: unknown;
  try {
    if (typeof (job as Invocable).toInvocation !== 'function') throw refuse('not an object without toInvocation()');
    invocation = (job as Invocable).toInvocation();
  } catch (err) {
    if (err instanceof SkqError) throw err;
    throw refuse(`but reading it failed: ${describeValue(serializeError(err).message)}`, err);
  }
  if (!(invocation instanceof Invocation)) throw refuse('but its toInvocation() returned something else');
  return invocation;
}

function callsOf(invocation: Invocation): JobCall[] {
  return invocation.parts ? [...invocation.parts] : [{ name: invocation.name, args: invocation.args }];
}

/**
 * Validates a job name, throwing `CONFIG_INVALID` naming the field.
 *
 * @example
 * ```ts
 * parseJobName('send-email'); // 'send-email'
 * parseJobName('skq.shell'); // throws CONFIG_INVALID: names starting with "skq." are reserved
 * parseJobName('a b', 'schedule name'); // throws CONFIG_INVALID, context.field 'schedule name'
 * ```
 */
export function parseJobName(name: unknown, field = 'name'): string {
  const parsed = safeParseInput(NameSchema, name);
  if (!parsed.success) {
    throw new SkqError('CONFIG_INVALID', `invalid job ${field} ${describeValue(name)}: ${describeIssues(parsed.error.issues)}`, {
      context: { field },
    });
  }
  if (parsed.data.startsWith('skq.')) throw new SkqError('CONFIG_INVALID', `job names starting with "skq." are reserved (${describeValue(name)})`, { context: { field } });
  return parsed.data;
}
