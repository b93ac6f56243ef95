import type { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError } from '../errors.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../storage/contract.js';
import type { JobContext } from './context.js';
import { Invocation, parseJobName, type Invocable } from './invocation.js';
import { validateArgs } from './job-args.js';
import { RoutesSchema } from './names.js';
import { timerMs } from '../delay.js';
import { RetryOptionsSchema, toRunOptions, type RetryOptions } from './retry-policy.js';
import type { RunnableJob } from './registry.js';

/**
 * The static side of a {@link JobMixin} subclass.
 *
 * @example
 * ```ts
 * const jobClasses: JobClass[] = [SayHelloToSomeone, SendInvoice];
 * for (const type of jobClasses) queue.register(type);
 * ```
 */
export interface JobClass<T extends JobMixin = JobMixin> {
  new (): T;
  /** The name workers know the class by. Default: the class name. */
  jobName?: string;
  /** A zod schema for the tuple of `work` arguments. */
  args?: z.ZodType;
  readonly name: string;
}

/**
 * Class-style jobs: extend `JobMixin`, put the work in `work()`, and push instances.
 * A worker finds the class by name, so register it (`queue.register(MyJob)`) in a module the worker loads.
 *
 * @example
 * ```ts
 * class SayHelloToSomeone extends JobMixin {
 *   routes = ['foo'];
 *   work(name: string) {
 *     console.log('hello', name, '!');
 *   }
 * }
 * queue.register(SayHelloToSomeone);
 * await queue.push(new SayHelloToSomeone().with('Jed'));
 * ```
 */
export abstract class JobMixin implements Invocable {
  /** The name workers know the class by. Default: the class name (set it if your build minifies names). */
  static jobName?: string;
  /** A zod schema for the tuple of `work` arguments, checked at push and again on the worker. */
  static args?: z.ZodType;

  /** Routes this job is delivered to. */
  routes: string[] = [];
  /** Higher runs first. */
  priority = 0;
  /** Retries: a number of attempts, or attempts with a backoff. */
  retry: RetryOptions | undefined = undefined;
  /** Per-attempt timeout in ms. */
  timeout: number | undefined = undefined;
  /** Set while `work` runs: the job's id, signal and log. */
  ctx!: JobContext;

  /** The job's work; its arguments are bound with {@link JobMixin.with}. */
  abstract work(...args: any[]): unknown;

  /**
   * Binds arguments, like calling the job: `new SayHelloToSomeone().with('Jed')`.
   */
  with<T extends JobMixin>(this: T, ...args: Parameters<T['work']>): Invocation {
    return this.invocation(args);
  }

  /** A compound job running this one, then `next`. */
  and(next: Invocable): Invocation {
    return this.invocation([]).and(next);
  }

  toInvocation(): Invocation {
    return this.invocation([]);
  }

  /** Writes a line to the job's log (same as `this.ctx.log`). */
  log(...parts: unknown[]): void {
    this.ctx.log(...parts);
  }

  private invocation(args: unknown[]): Invocation {
    const type = this.constructor as JobClass;
    const name = jobClassName(type);
    const routes = safeParseInput(RoutesSchema, this.routes);
    if (!routes.success) {
      throw new SkqError('CONFIG_INVALID', `job class ${type.name} has invalid routes: ${routes.error.issues[0]?.message}`, {
        context: { jobName: name, field: 'routes' },
      });
    }
    const retry = this.retry === undefined ? undefined : safeParseInput(RetryOptionsSchema, this.retry);
    if (retry && !retry.success) {
      throw new SkqError('CONFIG_INVALID', `job class ${type.name} has invalid retry options`, { context: { jobName: name, field: 'retry' } });
    }
    if (!Number.isInteger(this.priority) || this.priority < MIN_PRIORITY || this.priority > MAX_PRIORITY) {
      throw new SkqError('CONFIG_INVALID', `job class ${type.name} has priority ${this.priority}; expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`, {
        context: { jobName: name, field: 'priority' },
      });
    }
    const timeout = safeParseInput(timerMs().optional(), this.timeout);
    if (!timeout.success) {
      throw new SkqError('CONFIG_INVALID', `job class ${type.name} has timeout ${String(this.timeout)}: ${timeout.error.issues[0]?.message}`, {
        context: { jobName: name, field: 'timeout' },
      });
    }
    const wire = validateArgs(name, args, type.args);
    return new Invocation(name, wire, {
      routes: routes.data,
      priority: this.priority,
      runOptions: toRunOptions(retry?.data, timeout.data),
    });
  }
}

/**
 * The name a job class is registered and fired under.
 *
 * @example
 * ```ts
 * class Resize extends JobMixin { static override jobName = 'images.resize'; work() {} }
 * jobClassName(Resize); // 'images.resize'
 * jobClassName(SayHelloToSomeone); // 'SayHelloToSomeone'
 * ```
 */
export function jobClassName(type: JobClass): string {
  return parseJobName(type.jobName ?? type.name, 'class name');
}

/**
 * Makes a {@link JobMixin} subclass runnable by a worker.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry(defaultJobRegistry);
 * registry.add('*', runnableFromClass(SayHelloToSomeone));
 * ```
 */
export function runnableFromClass(type: JobClass): RunnableJob {
  return {
    name: jobClassName(type),
    kind: 'class',
    argsSchema: type.args,
    run(args, context) {
      const instance = new type();
      instance.ctx = context;
      return instance.work(...args);
    },
  };
}

/**
 * Whether `value` is a {@link JobMixin} subclass.
 *
 * @example
 * ```ts
 * const mod: Record<string, unknown> = await import('./jobs.js');
 * for (const value of Object.values(mod)) if (isJobClass(value)) queue.register(value);
 * ```
 */
export function isJobClass(value: unknown): value is JobClass {
  return typeof value === 'function' && value.prototype instanceof JobMixin;
}
