import { randomUUID } from 'node:crypto';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { JobDefinition, type JobHandler, type JobOptions } from '../job/define-job.js';
import { JobHandle, type JobReader } from '../job/job-handle.js';
import { FireOptionsSchema, invocationOf, parseJobName, type FireOptions, type Invocable, type InvocationTarget } from '../job/invocation.js';
import { ruleOf, saveSchedule, type Recurrence } from '../schedule/schedulers.js';
import { isJobClass, runnableFromClass, type JobClass } from '../job/job-mixin.js';
import { moduleInvocation, type CallOptions } from '../job/module-task.js';
import { shellInvocation, type ShellOptions, type ShellResult } from '../job/shell-task.js';
import { defaultJobRegistry, type JobRegistry } from '../job/registry.js';
import { resolveWhen, type When } from '../schedule/delay.js';
import { JOB_STATES, type JobRecord, type JobState, type LogLine, type NewJob, type QueueType, type ScheduleRecord, type StateCounts, type StorageBackend, type WorkerInfo } from '../storage/contract.js';
import { acquireBackend, backendUrlFromEnvironment, releaseBackend } from '../storage/open-backend.js';
import { JobWaiter } from './job-waiter.js';
import { parseQueueOptions, type QueueOptions } from './queue-options.js';
import { z } from 'zod';

/** What {@link SkunkQueue.list} filters on. */
const ListQuerySchema = z
  .object({
    state: z.enum(JOB_STATES as [JobState, ...JobState[]]).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict();

/** `{ state?, limit?, offset? }` for {@link SkunkQueue.list}. */
export type ListQuery = z.input<typeof ListQuerySchema>;

/**
 * A named queue on a backend: define jobs on it, fire them, and look them up.
 *
 * @example
 * ```ts
 * const queue = new SkunkQueue('demo'); // sqlite:.skunq/skunq.db unless SKQ_BACKEND is set
 * const add = queue.job({ name: 'add', routes: ['foo'] }, async (a: number, b: number) => a + b);
 * const handle = await add.fire(4, 5);
 * console.log(await handle.result({ timeoutMs: 10_000 })); // 9, once a worker on route foo ran it
 * await queue.close();
 * ```
 */
export class SkunkQueue implements InvocationTarget, JobReader {
  readonly name: string;
  readonly type: QueueType;
  /** The backend URL, or undefined when a backend object was given. */
  readonly backendUrl: string | undefined;
  readonly registry: JobRegistry;
  private readonly givenBackend: StorageBackend | undefined;
  private opened: Promise<StorageBackend> | null = null;
  private readonly waiter: JobWaiter;

  constructor(name: string, options?: QueueOptions) {
    const parsed = parseQueueOptions(name, options);
    this.name = parsed.name;
    this.type = parsed.options.type;
    const backend = parsed.options.backend ?? backendUrlFromEnvironment();
    this.backendUrl = typeof backend === 'string' ? backend : undefined;
    this.givenBackend = typeof backend === 'string' ? undefined : backend;
    this.registry = defaultJobRegistry;
    this.waiter = new JobWaiter(this.name, () => this.backend());
  }

  /** The queue's backend, opened on first use. */
  backend(): Promise<StorageBackend> {
    if (this.givenBackend) return Promise.resolve(this.givenBackend);
    if (!this.opened) {
      const opening = acquireBackend(this.backendUrl!);
      this.opened = opening;
      // A failed first connection is not kept: the next call tries again (a producer may start before its Redis).
      opening.catch(() => {
        if (this.opened === opening) this.opened = null;
      });
    }
    return this.opened;
  }

  /**
   * Defines a function-style job on this queue. Types flow from the handler, or from `args`
   * when it is given a zod tuple schema.
   */
  job<Schema extends z.ZodType<unknown[]>, R>(
    options: JobOptions & { args: Schema },
    handler: JobHandler<z.output<Schema>, R>,
  ): JobDefinition<z.input<Schema> & unknown[], Awaited<R>>;
  job<A extends unknown[], R>(options: JobOptions, handler: JobHandler<A, R>): JobDefinition<A, Awaited<R>>;
  job(options: JobOptions, handler: JobHandler<any[], unknown>): JobDefinition<any[], unknown> {
    const definition = new JobDefinition(options, handler, this);
    this.registry.add(this.name, definition.runnable);
    return definition;
  }

  /**
   * Registers a {@link JobMixin} class so workers of this queue can run it. Works as a call
   * or as a class decorator (`@queue.register`).
   */
  register = <T extends JobClass>(type: T, _decoratorContext?: unknown): T => {
    if (!isJobClass(type)) {
      throw new SkqError('CONFIG_INVALID', 'register() takes a class that extends JobMixin', { context: { queue: this.name, field: 'type' } });
    }
    this.registry.add(this.name, runnableFromClass(type));
    return type;
  };

  /**
   * Enqueues a shell task. The template is split into words, then `{placeholders}` are filled inside
   * each word; the worker runs it with `execFile`, never through a shell, and only if it allows shell
   * tasks. The job's result is `{ exitCode, stdout, stderr }`; output lines also go to its log.
   *
   * @example
   * ```ts
   * await queue.shell('id {name}', { name: 'root' }, { routes: ['ops'] });
   * ```
   */
  async shell(template: string, values: Record<string, string | number | boolean>, options: ShellOptions): Promise<JobHandle<ShellResult>> {
    return this.push(shellInvocation(template, values, options, this)) as Promise<JobHandle<ShellResult>>;
  }

  /**
   * Enqueues a call of a module's export, `'./workers/tasks.js:myTask'`, with `args`. The worker
   * imports the module only from directories it allows.
   *
   * @example
   * ```ts
   * await queue.call('./workers/tasks.js:resize', [{ width: 200 }], { routes: ['images'] });
   * ```
   */
  async call(target: string, args: unknown[], options: CallOptions): Promise<JobHandle> {
    return this.push(moduleInvocation(target, args, options, this));
  }

  /** Enqueues a job: a bound function job, a JobMixin instance or a conjunction (the seed's `queue += job`). */
  async push(job: Invocable, options?: FireOptions): Promise<JobHandle> {
    const [handle] = await this.pushMany([job], options);
    return handle!;
  }

  /** Enqueues many jobs in one batch, with the same fire options. */
  async pushMany(jobs: Invocable[], options?: FireOptions): Promise<JobHandle[]> {
    if (!Array.isArray(jobs)) throw new SkqError('ARGS_INVALID', `pushMany() takes an array of jobs, not ${jobs === null ? 'null' : typeof jobs}`, { context: { queue: this.name, field: 'jobs' } });
    const parsed = safeParseInput(FireOptionsSchema, options ?? {});
    if (!parsed.success) {
      throw new SkqError('ARGS_INVALID', `invalid fire options: ${describeIssues(parsed.error.issues, 'options')}`, {
        cause: parsed.error,
        context: { queue: this.name },
      });
    }
    if (parsed.data.jobId !== undefined && jobs.length > 1) {
      throw new SkqError('ARGS_INVALID', 'invalid fire options: options.jobId names one job, but pushMany got several', { context: { queue: this.name, field: 'jobId' } });
    }
    const now = Date.now();
    const runAt = parsed.data.at === undefined ? now : resolveWhen(parsed.data.at, now, 'options.at');
    const records: NewJob[] = jobs.map((job) => {
      const inv = invocationOf(job, 'push()');
      return {
        id: parsed.data.jobId ?? randomUUID(),
        queue: this.name,
        name: inv.name,
        args: inv.args,
        routes: parsed.data.routes ?? inv.defaults.routes,
        type: this.type,
        priority: parsed.data.priority ?? inv.defaults.priority,
        runAt,
        createdAt: now,
        options: inv.defaults.runOptions,
        dedupeKey: parsed.data.dedupeKey ?? null,
      };
    });
    const backend = await this.backend();
    const results = await backend.enqueue(records);
    return results.map((result) => new JobHandle(result.id, this, result.deduped));
  }

  /**
   * Saves a recurring schedule for `job` under `name`: `{ every }` (fixed rate), `{ cron, timezone? }`,
   * or `{ after }` (PyTaSched's recurring: the next run is the last one's completion plus the delay).
   * Saving the same name again with the same rule and job changes nothing.
   *
   * @example
   * ```ts
   * await queue.schedule('cleanup', cleanup.with(), { every: { minutes: 5 } });
   * await queue.schedule('report', report.with('daily'), { cron: '0 7 * * 1-5', timezone: 'America/New_York' });
   * await queue.schedule('poll', poll.with(), { after: { wait: 30 } });
   * ```
   */
  async schedule(name: string, job: Invocable, recurrence: Recurrence): Promise<string> {
    return saveSchedule(this, job, ruleOf(recurrence), parseJobName(name, 'schedule name'));
  }

  /** The queue's schedules with their next tick, state and counts. */
  async schedules(): Promise<ScheduleRecord[]> {
    return (await this.backend()).listSchedules(this.name);
  }

  /** Pauses (or, with `paused` false, resumes) a schedule. Throws `JOB_NOT_FOUND` if there is none. */
  async pauseSchedule(id: string, paused = true): Promise<void> {
    if (!(await (await this.backend()).setSchedulePaused(this.name, id, paused))) {
      throw new SkqError('JOB_NOT_FOUND', `schedule "${id}" not found in queue "${this.name}"`, { context: { queue: this.name, field: 'id' } });
    }
  }

  /** Removes a schedule. Throws `JOB_NOT_FOUND` if there is none. */
  async removeSchedule(id: string): Promise<void> {
    if (!(await (await this.backend()).removeSchedule(this.name, id))) {
      throw new SkqError('JOB_NOT_FOUND', `schedule "${id}" not found in queue "${this.name}"`, { context: { queue: this.name, field: 'id' } });
    }
  }

  /** A handle on a stored job. Throws `JOB_NOT_FOUND`. */
  async get(jobId: string): Promise<JobHandle> {
    if (!(await this.getRecord(jobId))) throw new SkqError('JOB_NOT_FOUND', `job ${jobId} not found in queue "${this.name}"`, { context: { jobId, queue: this.name } });
    return new JobHandle(jobId, this);
  }

  /** A stored job's record, or null when there is none in this queue. */
  async getRecord(jobId: string): Promise<JobRecord | null> {
    return (await this.backend()).getJob(this.name, this.jobIdArg(jobId));
  }

  /** Cancels a job: queued deliveries at once, running ones through their AbortSignal. False if it had already ended. */
  async cancel(jobId: string): Promise<boolean> {
    await this.requireJob(jobId);
    return (await this.backend()).cancel(this.name, jobId);
  }

  /** Moves a job that has not started to run at `when`. Throws `INVALID_STATE` when it has started or ended. */
  async reschedule(jobId: string, when: When): Promise<void> {
    await this.requireJob(jobId);
    const runAt = resolveWhen(when, Date.now(), 'when');
    if (!(await (await this.backend()).reschedule(this.name, jobId, runAt))) {
      throw new SkqError('INVALID_STATE', `job ${jobId} is no longer waiting and cannot be rescheduled`, { context: { jobId, queue: this.name } });
    }
  }

  /** Jobs of this queue, newest first. */
  async list(query: ListQuery = {}): Promise<JobRecord[]> {
    const parsed = safeParseInput(ListQuerySchema, query);
    if (!parsed.success) {
      throw new SkqError('ARGS_INVALID', `invalid list query: ${describeIssues(parsed.error.issues, 'query')}`, { cause: parsed.error, context: { queue: this.name } });
    }
    return (await this.backend()).listJobs({ queue: this.name, ...parsed.data });
  }

  /** Delivery counts per route and state. */
  async counts(): Promise<StateCounts> {
    return (await this.backend()).countByState(this.name);
  }

  /** Live workers of this queue. */
  async workers(): Promise<WorkerInfo[]> {
    return (await this.backend()).listWorkers(this.name);
  }

  /** A job's captured log lines. */
  async logs(jobId: string): Promise<LogLine[]> {
    return (await this.backend()).getLogs(this.name, this.jobIdArg(jobId));
  }

  /** Resolves with the job's record once it has ended. */
  waitForEnd(jobId: string, timeoutMs?: number): Promise<JobRecord> {
    return this.waiter.waitForEnd(jobId, timeoutMs);
  }

  /** Releases the backend if this queue opened it. */
  async close(): Promise<void> {
    await this.waiter.close();
    if (this.opened && this.backendUrl) {
      this.opened = null;
      await releaseBackend(this.backendUrl);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private jobIdArg(jobId: unknown): string {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new SkqError('ARGS_INVALID', 'jobId must be a non-empty string', { context: { queue: this.name, field: 'jobId' } });
    return jobId;
  }

  private async requireJob(jobId: string): Promise<JobRecord> {
    const record = await this.getRecord(jobId);
    if (!record) throw new SkqError('JOB_NOT_FOUND', `job ${jobId} not found in queue "${this.name}"`, { context: { jobId, queue: this.name } });
    return record;
  }
}
