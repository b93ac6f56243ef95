import { safeParseInput } from '../config.js';
import { newJobId } from '../job/job-id.js';
import { SkqError, describeIssues } from '../errors.js';
import { JobDefinition, type JobHandler, type JobOptions } from '../job/define-job.js';
import { JobHandle, type JobReader } from '../job/job-handle.js';
import { FireOptionsSchema, invocationOf, parseJobName, type FireOptions, type Invocable, type InvocationTarget } from '../job/invocation.js';
import { ruleOf, saveSchedule, type Recurrence } from '../schedule/schedulers.js';
import { isJobClass, runnableFromClass, type JobClass } from '../job/job-mixin.js';
import { moduleInvocation, type CallOptions } from '../job/module-task.js';
import { shellInvocation, type ShellOptions, type ShellResult } from '../job/shell-task.js';
import { defaultJobRegistry, type JobRegistry } from '../job/registry.js';
import { resolveWhen, type When } from '../delay.js';
import { WHOLE_QUEUE, type JobEvent, type JobEventType, type JobRecord, type LogLine, type NewJob, type QueueType, type RetentionRule, type ScheduleRecord, type StateCounts, type WorkerInfo } from '../storage/contract.js';
import type { StorageBackend } from '../storage/storage-backend.js';
import type { CallRecord } from '../storage/call-records.js';
import { retentionRule } from '../storage/retention.js';
import { THROUGHPUT_WINDOW_MS, minuteOf, type ThroughputBucket } from '../storage/throughput.js';
import type { WorkerCommandName } from '../storage/worker-commands.js';
import { backendUrlFromEnvironment } from '../storage/default-backend-url.js';
import { acquireBackend, releaseBackend } from '../storage/shared-backends.js';
import { recordCalls, type AsEventOptions } from './call-recorder.js';
import { cleanJobs, promoteJob, removeJob, requireJob, rescheduleJob, retryAllJobs, retryJob, type CleanQuery, type RetryAllQuery } from './job-admin.js';
import { listJobsPage, type JobPage, type ListQuery } from './job-listing.js';
import { JobWaiter } from './job-waiter.js';
import { QueueEvents, type EventStreamOptions } from './queue-events.js';
import { parseQueueOptions, type QueueOptions } from './queue-options.js';
import { commandWorker, type CommandOptions, type CommandOutcome } from './worker-control.js';
import { clearGroupLimits, clearRouteLimits, getGroupLimits, getRouteLimits, groupsUnsupported, listGroups, setGroupLimits, setRouteLimits, type GroupsQuery } from './group-limits.js';
import type { GroupLimits, GroupPage, RouteLimits } from '../storage/group-records.js';
import { z } from 'zod';
import { NameSchema } from '../job/names.js';

// Lookups take any id a store may hold (ids stored before JobIdSchema's rules included).
const StoredJobIdSchema = z.string().min(1);
const ScheduleIdSchema = z.string().min(1).max(512);
const PausedSchema = z.boolean();
/** The parse of no fire options (made on the first push without any). */
let NO_FIRE_OPTIONS: ReturnType<typeof safeParseInput<typeof FireOptionsSchema>> | undefined;

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
  private readonly eventHub: QueueEvents;
  private readonly retention: { removeOnComplete: RetentionRule | null; removeOnFail: RetentionRule | null };

  constructor(name: string, options?: QueueOptions) {
    const parsed = parseQueueOptions(name, options);
    this.name = parsed.name;
    this.type = parsed.options.type;
    this.retention = { removeOnComplete: retentionRule(parsed.options.removeOnComplete), removeOnFail: retentionRule(parsed.options.removeOnFail) };
    const backend = parsed.options.backend ?? backendUrlFromEnvironment();
    this.backendUrl = typeof backend === 'string' ? backend : undefined;
    this.givenBackend = typeof backend === 'string' ? undefined : backend;
    this.registry = defaultJobRegistry;
    this.waiter = new JobWaiter(this.name, () => this.backend());
    this.eventHub = new QueueEvents(this.name, () => this.backend());
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

  /** Enqueues a job: a bound function job, a JobMixin instance or a conjunction. */
  async push(job: Invocable, options?: FireOptions): Promise<JobHandle> {
    const [handle] = await this.pushMany([job], options);
    return handle!;
  }

  /** Enqueues many jobs in one batch, with the same fire options. */
  async pushMany(jobs: Invocable[], options?: FireOptions): Promise<JobHandle[]> {
    if (!Array.isArray(jobs)) throw new SkqError('ARGS_INVALID', `pushMany() takes an array of jobs, not ${jobs === null ? 'null' : typeof jobs}`, { context: { queue: this.name, field: 'jobs' } });
    // Most pushes carry no options: their parse is made once.
    const parsed = options === undefined ? (NO_FIRE_OPTIONS ??= safeParseInput(FireOptionsSchema, {})) : safeParseInput(FireOptionsSchema, options);
    if (!parsed.success) {
      const path = parsed.error.issues[0]?.path ?? [];
      throw new SkqError('ARGS_INVALID', `invalid fire options: ${describeIssues(parsed.error.issues, 'options')}`, {
        cause: parsed.error,
        context: { queue: this.name, field: ['options', ...path.map(String)].join('.') },
      });
    }
    if (parsed.data.jobId !== undefined && jobs.length > 1) {
      throw new SkqError('ARGS_INVALID', 'invalid fire options: options.jobId names one job, but pushMany got several', { context: { queue: this.name, field: 'jobId' } });
    }
    const now = Date.now();
    const runAt = parsed.data.at === undefined ? now : resolveWhen(parsed.data.at, now, 'options.at');
    const removeOnComplete = parsed.data.removeOnComplete === undefined ? this.retention.removeOnComplete : retentionRule(parsed.data.removeOnComplete);
    const removeOnFail = parsed.data.removeOnFail === undefined ? this.retention.removeOnFail : retentionRule(parsed.data.removeOnFail);
    const kept = { ...(removeOnComplete && { removeOnComplete }), ...(removeOnFail && { removeOnFail }), ...(runAt > now && { delayMs: runAt - now }) };
    const records: NewJob[] = jobs.map((job) => {
      const inv = invocationOf(job, 'push()');
      const group = parsed.data.group ?? inv.defaults.group;
      return {
        id: parsed.data.jobId ?? newJobId(now),
        queue: this.name,
        name: inv.name,
        args: inv.args,
        routes: parsed.data.routes ?? inv.defaults.routes,
        type: this.type,
        priority: parsed.data.priority ?? inv.defaults.priority,
        runAt,
        createdAt: now,
        options: { ...inv.defaults.runOptions, ...kept },
        dedupeKey: parsed.data.dedupeKey ?? null,
        ...(group !== undefined && { group }),
      };
    });
    const backend = await this.backend();
    if (records.some((record) => record.group !== undefined)) {
      if (!backend.capabilities.groups) throw groupsUnsupported(backend, this.name, 'options.group');
      if (this.type === 'broadcast') {
        throw new SkqError('ARGS_INVALID', `queue "${this.name}" is a broadcast queue: every listening worker runs each job, so its jobs have no group`, {
          context: { queue: this.name, field: 'options.group' },
        });
      }
    }
    const { tx } = parsed.data;
    if (tx !== undefined && !backend.capabilities.transactionalEnqueue) {
      throw new SkqError('UNSUPPORTED', `the ${backend.kind} backend cannot enqueue inside your transaction (options.tx): use a backend with transactional enqueue, such as postgres`, {
        context: { queue: this.name, field: 'options.tx' },
      });
    }
    const results = await backend.enqueue(records, tx === undefined ? undefined : { transaction: tx });
    return results.map((result) => new JobHandle(result.id, this, result.deduped));
  }

  /**
   * Saves a recurring schedule for `job` under `name`: `{ every }` (fixed rate), `{ cron, timezone? }`,
   * or `{ after }` (recurring after each run: the next run is the last one's completion plus the delay).
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
    this.scheduleIdArg(id);
    this.parsedArg(PausedSchema, paused, 'paused', 'paused');
    if (!(await (await this.backend()).setSchedulePaused(this.name, id, paused))) {
      throw new SkqError('JOB_NOT_FOUND', `schedule "${id}" not found in queue "${this.name}"`, { context: { queue: this.name, field: 'id' } });
    }
  }

  /** Removes a schedule. Throws `JOB_NOT_FOUND` if there is none. */
  async removeSchedule(id: string): Promise<void> {
    if (!(await (await this.backend()).removeSchedule(this.name, this.scheduleIdArg(id)))) {
      throw new SkqError('JOB_NOT_FOUND', `schedule "${id}" not found in queue "${this.name}"`, { context: { queue: this.name, field: 'id' } });
    }
  }

  /** A handle on a stored job. Throws `JOB_NOT_FOUND`. */
  async get(jobId: string): Promise<JobHandle> {
    await this.requireJob(jobId);
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

  /**
   * Moves a job that has not started to run at `when`; without `when`, to now plus the delay it was
   * fired with. Throws `INVALID_STATE` when it has started or ended.
   *
   * @example
   * ```ts
   * await queue.reschedule(handle.id, { minutes: 5 });
   * ```
   */
  async reschedule(jobId: string, when?: When): Promise<void> {
    await rescheduleJob(await this.target(), jobId, when);
  }

  /**
   * A page of jobs, newest first, filtered by state, name, route or `search` (an id prefix or part of
   * a name). Pass `nextCursor` back as `cursor` for the next page; jobs added meanwhile never shift a page.
   *
   * @example
   * ```ts
   * const { jobs, nextCursor } = await queue.list({ state: 'failed', limit: 20 });
   * ```
   */
  async list(query: ListQuery = {}): Promise<JobPage> {
    return listJobsPage(await this.backend(), this.name, query);
  }

  /**
   * Runs a failed or cancelled job again, with a fresh retry budget. Two retries at once run it once:
   * the second throws `INVALID_STATE`.
   *
   * @example
   * ```ts
   * await queue.retry(jobId);
   * ```
   */
  async retry(jobId: string): Promise<void> {
    await retryJob(await this.target(), jobId);
  }

  /**
   * Retries every failed (or cancelled) job, optionally of one name or ended before an instant, a page
   * at a time. Returns how many it retried.
   *
   * @example
   * ```ts
   * const n = await queue.retryAll({ state: 'failed', name: 'send-email' });
   * ```
   */
  async retryAll(query: RetryAllQuery = {}): Promise<number> {
    return retryAllJobs(await this.target(), query);
  }

  /**
   * Runs a scheduled (delayed) job now. Throws `INVALID_STATE` unless it is scheduled.
   *
   * @example
   * ```ts
   * await queue.promote(jobId);
   * ```
   */
  async promote(jobId: string): Promise<void> {
    await promoteJob(await this.target(), jobId);
  }

  /**
   * Deletes a job, its deliveries and its logs. Throws `INVALID_STATE` while it runs.
   *
   * @example
   * ```ts
   * await queue.remove(jobId);
   * ```
   */
  async remove(jobId: string): Promise<void> {
    await removeJob(await this.target(), jobId);
  }

  /**
   * Deletes jobs in one state that ended (or, waiting, were created) at least `olderThan` ago, up to
   * `limit`. Returns how many. `state: 'running'` throws `INVALID_STATE`.
   *
   * @example
   * ```ts
   * await queue.clean({ state: 'succeeded', olderThan: { days: 7 } });
   * ```
   */
  async clean(query: CleanQuery): Promise<number> {
    return cleanJobs(await this.target(), query);
  }

  /**
   * Pauses the queue, or one route of it: no worker anywhere claims from it until {@link SkunkQueue.resume}.
   * Running jobs finish; enqueueing goes on. The route need not exist yet: a pause of a route no worker
   * or job has is stored and holds it from the moment one appears (pause before deploying its workers),
   * so a misspelt route is not refused; {@link SkunkQueue.pausedRoutes} shows what is paused.
   *
   * @example
   * ```ts
   * await queue.pause('emails'); // one route
   * await queue.pause(); // the whole queue
   * ```
   */
  async pause(route?: string): Promise<void> {
    await (await this.backend()).setPaused(this.name, this.routeArg(route), true);
  }

  /**
   * Resumes a paused queue or route; idle workers wake at once.
   *
   * @example
   * ```ts
   * await queue.resume('emails');
   * ```
   */
  async resume(route?: string): Promise<void> {
    await (await this.backend()).setPaused(this.name, this.routeArg(route), false);
  }

  /**
   * Whether the queue is paused, or (with `route`) whether that route is, by itself or with its queue.
   *
   * @example
   * ```ts
   * if (await queue.isPaused('emails')) console.log('emails are on hold');
   * ```
   */
  async isPaused(route?: string): Promise<boolean> {
    const paused = await (await this.backend()).pausedRoutes(this.name);
    return paused.includes(WHOLE_QUEUE) || (route !== undefined && paused.includes(this.routeArg(route)));
  }

  /**
   * The paused routes, `'*'` when the whole queue is paused.
   *
   * @example
   * ```ts
   * console.log(await queue.pausedRoutes()); // ['emails']
   * ```
   */
  async pausedRoutes(): Promise<string[]> {
    return (await this.backend()).pausedRoutes(this.name);
  }

  /**
   * Commands a worker, wherever it runs, through the backend: `stop` finishes its running jobs and
   * exits (as SIGTERM), `stop-rough` puts them back on the queue (as SIGINT); `stop` and `stop-rough` stop the worker's
   * whole pool. `pause` and `resume` hold and restart that worker's claiming. Resolves once obeyed;
   * throws `WORKER_NOT_FOUND` for an unknown or expired id and `COMMAND_EXPIRED` if not obeyed within `timeoutMs` (10 s).
   *
   * @example
   * ```ts
   * const [worker] = await queue.workers();
   * await queue.commandWorker(worker!.id, 'stop');
   * ```
   */
  async commandWorker(workerId: string, command: WorkerCommandName, options?: CommandOptions): Promise<CommandOutcome> {
    return commandWorker(await this.backend(), this.name, workerId, command, options);
  }

  /**
   * Calls `fn` with each event of `type` from any process: `completed` is `succeeded`. Best effort:
   * events sent while this process was disconnected are missed, so read durable state
   * (`queue.list`, `handle.info`) for anything that must not be missed. Resolves to an unsubscribe function.
   *
   * @example
   * ```ts
   * const off = await queue.on('failed', (e) => console.log('failed:', e.jobId));
   * await off();
   * ```
   */
  on(type: JobEventType | 'completed', fn: (event: JobEvent) => void): Promise<() => Promise<void>> {
    return this.eventHub.on(type === 'completed' ? 'succeeded' : type, fn);
  }

  /**
   * The queue's events as an async iterator, best effort like {@link SkunkQueue.on}.
   *
   * @example
   * ```ts
   * for await (const e of queue.events({ types: ['progress'], signal })) console.log(e.jobId, e.data);
   * ```
   */
  events(options?: EventStreamOptions): AsyncGenerator<JobEvent> {
    return this.eventHub.stream(options);
  }

  /**
   * Jobs completed and failed per route and minute, for the last `minutes` (at most 24 hours).
   *
   * @example
   * ```ts
   * const lastHour = await queue.metrics({ minutes: 60 });
   * ```
   */
  async metrics(options: { minutes?: number } = {}): Promise<ThroughputBucket[]> {
    const parsed = safeParseInput(z.object({ minutes: z.number().int().min(1).max(THROUGHPUT_WINDOW_MS / 60_000).default(60) }).strict(), options);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid metrics options: ${describeIssues(parsed.error.issues, 'options')}`, { context: { queue: this.name } });
    return (await this.backend()).throughput(this.name, minuteOf(Date.now()) - (parsed.data.minutes - 1) * 60_000);
  }

  /**
   * Wraps `fn` so each call stores a record (name, time, pid, return value, captured stdout/stderr)
   * in the backend and returns `[value, lines]`. Read them with {@link SkunkQueue.records}.
   *
   * @example
   * ```ts
   * const nightly = queue.asEvent(function nightly() { console.log('backing up'); return 0; }, { echo: process.stdout });
   * const [value, lines] = await nightly(); // 0, ['backing up']
   * ```
   */
  asEvent<A extends unknown[], R>(fn: (...args: A) => R, options?: AsEventOptions): (...args: A) => Promise<[Awaited<R>, string[]]> {
    return recordCalls(() => this.backend(), this.name, fn, options);
  }

  /**
   * Records of `asEvent` calls, newest first.
   *
   * @example
   * ```ts
   * const [last] = await queue.records({ name: 'nightly', limit: 1 });
   * ```
   */
  async records(query: { name?: string; limit?: number } = {}): Promise<CallRecord[]> {
    const parsed = safeParseInput(z.object({ name: z.string().min(1).optional(), limit: z.number().int().min(1).max(10_000).default(100) }).strict(), query);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid records query: ${describeIssues(parsed.error.issues, 'query')}`, { context: { queue: this.name } });
    return (await this.backend()).listCallRecords(this.name, parsed.data);
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

  /**
   * Limits a group's jobs, across every worker: at most `concurrency` running at once, at most
   * `rate.max` started in any `rate.perMs` window. `'*'` sets the default for every group without
   * limits of its own. Replaces the group's limits; the next claim obeys them.
   *
   * @example
   * ```ts
   * await queue.setGroupLimits('*', { concurrency: 2 }); // every tenant: 2 at once
   * await queue.setGroupLimits('tenant-42', { concurrency: 5, rate: { max: 100, perMs: 60_000 } });
   * ```
   */
  async setGroupLimits(group: string, limits: GroupLimits): Promise<void> {
    await setGroupLimits(await this.target(), group, limits);
  }

  /**
   * A group's own limits (`'*'`: the default), or null.
   *
   * @example
   * ```ts
   * await queue.groupLimits('tenant-42'); // { concurrency: 5, rate: { max: 100, perMs: 60000 } }
   * ```
   */
  async groupLimits(group: string): Promise<GroupLimits | null> {
    return getGroupLimits(await this.target(), group);
  }

  /**
   * Removes a group's own limits: the default applies to it again (`'*'`: groups without their own are unlimited).
   *
   * @example
   * ```ts
   * await queue.clearGroupLimits('tenant-42');
   * ```
   */
  async clearGroupLimits(group: string): Promise<void> {
    await clearGroupLimits(await this.target(), group);
  }

  /**
   * Limits the rate of a route: at most `rate.max` of its jobs, grouped or not, started in any `rate.perMs` window.
   *
   * @example
   * ```ts
   * await queue.setRouteLimits('emails', { rate: { max: 100, perMs: 60_000 } }); // 100 a minute
   * ```
   */
  async setRouteLimits(route: string, limits: RouteLimits): Promise<void> {
    await setRouteLimits(await this.target(), this.namedRouteArg(route), limits);
  }

  /**
   * A route's limits, or null.
   *
   * @example
   * ```ts
   * await queue.routeLimits('emails'); // { rate: { max: 100, perMs: 60000 } }
   * ```
   */
  async routeLimits(route: string): Promise<RouteLimits | null> {
    return getRouteLimits(await this.target(), this.namedRouteArg(route));
  }

  /**
   * Removes a route's limits.
   *
   * @example
   * ```ts
   * await queue.clearRouteLimits('emails');
   * ```
   */
  async clearRouteLimits(route: string): Promise<void> {
    await clearRouteLimits(await this.target(), this.namedRouteArg(route));
  }

  /**
   * The queue's groups, in key order, a page at a time: each with its queued and running jobs, its
   * own limits and until when a `RateLimited` holds it.
   *
   * @example
   * ```ts
   * for (let page = await queue.groups(); ; page = await queue.groups({ cursor: page.cursor })) {
   *   for (const g of page.groups) console.log(g.group, g.queued, g.running, g.limitedUntil);
   *   if (!page.cursor) break;
   * }
   * ```
   */
  async groups(query: GroupsQuery = {}): Promise<GroupPage> {
    return listGroups(await this.target(), query);
  }

  /** Releases the backend if this queue opened it. */
  async close(): Promise<void> {
    await this.waiter.close();
    await this.eventHub.close();
    if (this.opened && this.backendUrl) {
      this.opened = null;
      await releaseBackend(this.backendUrl);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private jobIdArg(jobId: unknown): string {
    return this.parsedArg(StoredJobIdSchema, jobId, 'jobId', 'job id');
  }

  private scheduleIdArg(id: unknown): string {
    return this.parsedArg(ScheduleIdSchema, id, 'id', 'schedule id');
  }

  /** `input` as `schema` reads it, or ARGS_INVALID naming `field` with zod's issues as its cause. */
  private parsedArg<S extends z.ZodType>(schema: S, input: unknown, field: string, label: string): z.output<S> {
    const parsed = safeParseInput(schema, input);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid ${label}: ${describeIssues(parsed.error.issues, field)}`, { cause: parsed.error, context: { queue: this.name, field } });
    return parsed.data;
  }

  private async requireJob(jobId: string): Promise<JobRecord> {
    return requireJob(await this.backend(), this.name, jobId);
  }

  private async target(): Promise<{ backend: StorageBackend; queue: string }> {
    return { backend: await this.backend(), queue: this.name };
  }

  private namedRouteArg(route: unknown): string {
    if (route === undefined) throw new SkqError('ARGS_INVALID', 'invalid route: a route name is required', { context: { queue: this.name, field: 'route' } });
    return this.routeArg(route);
  }

  private routeArg(route: unknown): string {
    if (route === undefined) return WHOLE_QUEUE;
    const parsed = safeParseInput(NameSchema, route);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid route ${String(route)}: ${describeIssues(parsed.error.issues)}`, { context: { queue: this.name, field: 'route' } });
    return parsed.data;
  }
}
