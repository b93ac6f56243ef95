import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { timerMs } from '../delay.js';
import { SkqError, describeIssues, describeValue, serializeError } from '../errors.js';
import { GroupKeySchema } from '../storage/group-records.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../storage/contract.js';
import type { When } from '../delay.js';
import { currentJob } from './context.js';
import type { JobHandle } from './job-handle.js';
import { Invocation, parseJobName, type FireOptions, type InvocationTarget } from './invocation.js';
import { isZodSchema, validateArgs } from './job-args.js';
import { RoutesSchema } from './names.js';
import { RetryOptionsSchema, toRunOptions } from './retry-policy.js';
import type { RunnableJob } from './registry.js';

/**
 * Options of a function-style job.
 *
 * @example
 * ```ts
 * JobOptionsSchema.parse({ name: 'add', routes: ['foo'], retry: 3 });
 * JobOptionsSchema.safeParse({ name: 'add', routes: [] }).success; // false: needs at least one route
 * ```
 */
export const JobOptionsSchema = z
  .object({
    name: z.string(),
    routes: RoutesSchema,
    /** A zod schema for the tuple of arguments, e.g. `z.tuple([z.number(), z.number()])`. */
    args: z.custom<z.ZodType>(isZodSchema, 'must be a zod schema').optional(),
    retry: RetryOptionsSchema.optional(),
    /** Per-attempt timeout in ms: the handler's signal aborts, then the attempt fails with TIMEOUT. */
    timeout: timerMs().optional(),
    /** Default priority; higher runs first. */
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
    /** The group of each job: a key, or a function of the job's arguments that returns one (a backend with groups only). */
    group: z.union([GroupKeySchema, z.custom<(...args: any[]) => string>((v) => typeof v === 'function', 'must be a group key or a function of the arguments')]).optional(),
  })
  .strict();

/**
 * `{ name, routes, args?, retry?, timeout?, priority?, group? }` for `queue.job`.
 *
 * @example
 * ```ts
 * const options: JobOptions = { name: 'charge', routes: ['payments'], retry: 5, timeout: 30_000, priority: 10, group: (orderId: string) => orderId.split(':')[0]! };
 * const charge = queue.job(options, async (orderId: string) => orderId);
 * ```
 */
export type JobOptions = z.input<typeof JobOptionsSchema>;

/**
 * A handler: its `this` is the job's context too.
 *
 * @example
 * ```ts
 * const add: JobHandler<[number, number], number> = function (a, b) {
 *   this.log('adding', a, b);
 *   return a + b;
 * };
 * ```
 */
export type JobHandler<Args extends unknown[], Result> = (this: ReturnType<typeof currentJob>, ...args: Args) => Result;

/**
 * A function-style job, made by `queue.job(options, handler)`.
 *
 * @example
 * ```ts
 * const add = queue.job({ name: 'add', routes: ['foo'] }, async (a: number, b: number) => a + b);
 * const handle = await add.fire(4, 5);
 * console.log(await handle.result()); // 9
 * ```
 */
export class JobDefinition<Args extends unknown[] = unknown[], Result = unknown> {
  readonly name: string;
  readonly routes: string[];
  readonly runnable: RunnableJob;
  private readonly argsSchema: z.ZodType | undefined;
  private readonly priority: number;
  private readonly runOptions: ReturnType<typeof toRunOptions>;
  private readonly group: string | ((...args: any[]) => string) | undefined;

  constructor(
    options: JobOptions,
    handler: JobHandler<any[], unknown>,
    private readonly target: InvocationTarget,
  ) {
    const parsed = safeParseInput(JobOptionsSchema, options);
    if (!parsed.success) {
      throw new SkqError('CONFIG_INVALID', `invalid job options: ${describeIssues(parsed.error.issues, 'job')}`, {
        cause: parsed.error,
        context: { field: String(parsed.error.issues[0]?.path[0] ?? '') },
      });
    }
    if (typeof handler !== 'function') throw new SkqError('CONFIG_INVALID', 'job handler must be a function', { context: { field: 'handler' } });
    this.name = parseJobName(parsed.data.name);
    this.routes = parsed.data.routes;
    this.argsSchema = parsed.data.args;
    this.priority = parsed.data.priority ?? 0;
    this.runOptions = toRunOptions(parsed.data.retry, parsed.data.timeout);
    this.group = parsed.data.group;
    const name = this.name;
    this.runnable = {
      name,
      kind: 'function',
      argsSchema: parsed.data.args,
      run(args, context) {
        return handler.apply(context, args);
      },
    };
  }

  /** Binds arguments without firing, for `.and()` or `queue.push`. Checks them now, and computes the job's group. */
  with(...args: Args): Invocation {
    const wire = validateArgs(this.name, args, this.argsSchema);
    const group = typeof this.group === 'function' ? groupOf(this.name, this.group, args) : this.group;
    return new Invocation(this.name, wire, { routes: this.routes, priority: this.priority, runOptions: this.runOptions, ...(group !== undefined && { group }) }, this.target);
  }

  /** Enqueues the job now. Arguments failing the schema reject with `ARGS_INVALID`, and nothing is enqueued. */
  async fire(...args: Args): Promise<JobHandle<Result>> {
    return (await this.with(...args).fire()) as JobHandle<Result>;
  }

  /** Enqueues the job to run at `when`: a Date, ms from now, or `{ days, hours, minutes, seconds, millis }`. */
  async fireAt(when: When, ...args: Args): Promise<JobHandle<Result>> {
    return (await this.with(...args).fire({ at: when })) as JobHandle<Result>;
  }

  /** Enqueues with per-fire options: `{ priority, dedupeKey, at, routes, group, jobId, … }`. */
  async fireWith(options: FireOptions, ...args: Args): Promise<JobHandle<Result>> {
    return (await this.with(...args).fire(options)) as JobHandle<Result>;
  }
}

/** The group a definition's function computes from `args`; `ARGS_INVALID` when it throws or returns no group key. */
function groupOf(name: string, fn: (...args: any[]) => string, args: unknown[]): string {
  let key: unknown;
  try {
    key = fn(...args);
  } catch (cause) {
    throw new SkqError('ARGS_INVALID', `the group function of job "${name}" threw: ${serializeError(cause).message}`, { cause, context: { jobName: name, field: 'group' } });
  }
  const parsed = safeParseInput(GroupKeySchema, key);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `the group function of job "${name}" returned ${describeValue(key)}: ${describeIssues(parsed.error.issues, 'group')}`, {
      context: { jobName: name, field: 'group' },
    });
  }
  return parsed.data;
}
