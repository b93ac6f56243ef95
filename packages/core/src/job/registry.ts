import type { z } from 'zod';
import type { JobContext } from './context.js';

/**
 * A job a worker can run: how to check its arguments and how to run it.
 *
 * @example
 * ```ts
 * const ping: RunnableJob = { name: 'ping', kind: 'function', argsSchema: undefined, run: async () => 'pong' };
 * registry.add('*', ping);
 * ```
 */
export interface RunnableJob {
  readonly name: string;
  readonly kind: 'function' | 'class';
  readonly argsSchema: z.ZodType | undefined;
  /**
   * Runs the job: its value, or a promise of it. A handler's own value is passed through as it is,
   * not wrapped in a promise of skunq's: a worker awaits it once, and a throw here fails the attempt.
   */
  run(args: unknown[], context: JobContext): unknown;
}

/**
 * Where job definitions are found by name. Defining a job with `queue.job` or `queue.register`
 * records it here under its queue, so a worker that imports the defining module can run it.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry();
 * registry.add('demo', runnable);
 * registry.get('demo', 'add')?.run([4, 5], ctx);
 * ```
 */
export class JobRegistry {
  private readonly byQueue = new Map<string, Map<string, RunnableJob>>();

  /** @param parent a registry consulted for names this one lacks. */
  constructor(private readonly parent?: JobRegistry) {}

  /** Records `job` for `queue` (`'*'` for every queue). A later definition of the same name wins. */
  add(queue: string, job: RunnableJob): void {
    let jobs = this.byQueue.get(queue);
    if (!jobs) this.byQueue.set(queue, (jobs = new Map()));
    jobs.set(job.name, job);
  }

  /** The job named `name` for `queue`, falling back to jobs registered for every queue. */
  get(queue: string, name: string): RunnableJob | undefined {
    return this.byQueue.get(queue)?.get(name) ?? this.byQueue.get('*')?.get(name) ?? this.parent?.get(queue, name);
  }

  /** The names known for `queue`, its own and the shared ones. */
  names(queue: string): string[] {
    const own = [...(this.byQueue.get(queue)?.keys() ?? []), ...(this.byQueue.get('*')?.keys() ?? [])];
    return [...new Set([...own, ...(this.parent?.names(queue) ?? [])])].sort();
  }
}

/**
 * The process-wide registry that `queue.job` and `queue.register` write to.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry(defaultJobRegistry); // a worker's own jobs, then every defined one
 * defaultJobRegistry.names('demo'); // ['SayHelloToSomeone', 'add'] once the module defining them is loaded
 * ```
 */
export const defaultJobRegistry = new JobRegistry();
