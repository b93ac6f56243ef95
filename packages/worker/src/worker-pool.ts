import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  JobDefinition,
  SkqError,
  isSkqError,
  type JobEvent,
  type LogMeta,
  type Logger,
} from '@skq/core';
import {
  JobRegistry,
  ScheduleRunner,
  acquireBackend,
  activeJobContext,
  backendUrlFromEnvironment,
  captureConsoleIntoJobs,
  pendingCommand,
  WHOLE_QUEUE,
  moduleRunnable,
  shellRunnable,
  defaultJobRegistry,
  releaseBackend,
  runnableFromClass,
  type StorageBackend,
  type WorkerCommand,
} from '@skq/core/backend';
import { cancellationError } from './attempt-control.js';
import { catchEscapedErrors, handleStopSignals } from './process-hooks.js';
import { RouteWorker } from './route-worker.js';
import { parseWorkerPoolOptions, type ParsedWorkerPoolOptions, type WorkerPoolOptions } from './worker-options.js';

export { GENTLE_SIGNALS, ROUGH_SIGNALS } from './process-hooks.js';

const WAKING_EVENTS = new Set<JobEvent['type']>(['enqueued', 'retrying', 'recovered', 'rescheduled', 'resumed']);
const POOL_EVENTS: JobEvent['type'][] = [...WAKING_EVENTS, 'cancel-requested', 'worker-command'];
/** Ends that may free a group's place: heard only once a claim found due work held back by limits. */
const ENDING_EVENTS: JobEvent['type'][] = ['succeeded', 'failed', 'cancelled'];
/** The least time between two heartbeats that report a change in running jobs. */
const STATUS_BEAT_MS = 1_000;
/** The first wait before a start that found the backend not answering is tried again; each next one doubles, up to the last. */
const START_RETRY_FIRST_MS = 250;
const START_RETRY_LAST_MS = 4_000;
/** The pool's logger for `logger: false`. */
const SILENT: Logger = { warn: () => {}, info: () => {} };

/**
 * Runs one worker per route of a queue, each with its own concurrency, and keeps them
 * registered, leased and recovered.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo', 'bar'], concurrency: 4 });
 * await pool.listen(); // until SIGTERM (gentle) or SIGINT (rough)
 * ```
 */
export class WorkerPool {
  readonly queue: string;
  private readonly options: ParsedWorkerPoolOptions;
  private readonly registry: JobRegistry;
  private readonly backendUrl: string | undefined;
  private backend: StorageBackend | null = null;
  private workers: RouteWorker[] = [];
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => Promise<void>) | null = null;
  /** The subscription to endings that {@link WorkerPool.wakeOnEndings} made, once a limit held a claim back. */
  private endings: Promise<(() => Promise<void>) | null> | null = null;
  private runner: ScheduleRunner | null = null;
  private state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  private stopped: Promise<void> | null = null;
  private resolveListen: (() => void) | null = null;
  private removeSignalHandlers: (() => void) | null = null;
  private removeEscapeHandlers: (() => void) | null = null;
  private starting: Promise<void> | null = null;
  /** A stop asked for while the pool was starting: start() then starts no worker. */
  private stopRequested = false;
  /** Ends the wait before {@link WorkerPool.listen} tries a failed start again (a stop came). */
  private wakeStart: (() => void) | null = null;
  /** Heartbeats run one at a time: a command's acknowledgement must not race the timer's. */
  private beats: Promise<void> = Promise.resolve();
  /** Commands obeyed, so that one is not obeyed twice before its acknowledgement is stored. */
  private readonly obeyed = new Set<string>();
  private readonly logger: Logger;
  /** A heartbeat that tells the registrations of a change in running jobs, at most one a second. */
  private statusBeat: NodeJS.Timeout | null = null;
  private lastStatusBeat = 0;

  constructor(options: WorkerPoolOptions) {
    this.options = parseWorkerPoolOptions(options);
    this.logger = this.options.logger === false ? SILENT : this.options.logger;
    const { queue, backend } = this.options;
    this.queue = typeof queue === 'string' ? queue : queue.name;
    this.registry = new JobRegistry(defaultJobRegistry);
    this.registry.add('*', shellRunnable(this.options.allowShell));
    this.registry.add('*', moduleRunnable(this.options.modules ?? { allow: [] }));
    for (const job of this.options.jobs) {
      this.registry.add('*', job instanceof JobDefinition ? job.runnable : runnableFromClass(job));
    }
    if (typeof backend === 'object') this.backend = backend;
    else if (typeof backend === 'string') this.backendUrl = backend;
    else if (typeof queue === 'string') this.backendUrl = backendUrlFromEnvironment();
    // Otherwise the pool shares the given queue's backend.
  }

  /** The worker ids, one per route. */
  get workerIds(): string[] {
    return this.workers.map((w) => w.id);
  }

  /** How many jobs run now, per route. */
  running(): Record<string, number> {
    return Object.fromEntries(this.workers.map((w) => [w.route, w.runningDeliveries().length]));
  }

  /** Jobs this pool has finished since it started, by outcome, over all routes. */
  stats(): { succeeded: number; failed: number; retried: number; cancelled: number } {
    const total = { succeeded: 0, failed: 0, retried: 0, cancelled: 0 };
    for (const worker of this.workers) for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += worker.stats[key];
    return total;
  }

  /** Registers the workers and starts consuming. Resolves once they are listening. */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new SkqError('INVALID_STATE', `the pool is ${this.state}`, { context: { queue: this.queue } }));
    this.state = 'starting';
    this.starting = this.startWorkers().catch(async (err: unknown) => {
      // Nothing was claimed (workers claim only once started): undo the subscription and the backend, and
      // the pool can start again (a registration already made expires with its TTL).
      await this.unsubscribe?.().catch(() => undefined);
      this.unsubscribe = null;
      if (this.backendUrl !== undefined && this.backend) {
        this.backend = null;
        await releaseBackend(this.backendUrl).catch(() => undefined);
      }
      this.workers = [];
      this.state = 'idle';
      throw err;
    });
    return this.starting;
  }

  private async startWorkers(): Promise<void> {
    captureConsoleIntoJobs();
    const { queue } = this.options;
    if (this.backendUrl !== undefined) this.backend = await acquireBackend(this.backendUrl);
    else if (!this.backend && typeof queue === 'object') this.backend = await queue.backend();
    const backend = this.backend!;
    const { routes, leaseMs, registrationTtlMs } = this.options;
    const suffix = randomBytes(3).toString('hex');
    this.workers = routes.map(
      (route) =>
        new RouteWorker({
          queue: this.queue,
          route,
          workerId: `${hostname()}:${process.pid}:${route}:${suffix}`,
          concurrency: this.concurrencyOf(route),
          prefetch: this.options.prefetch,
          leaseMs,
          pollIntervalMs: this.options.pollIntervalMs,
          registry: this.registry,
          backend,
          warn: (message, meta) => this.warn(message, meta),
          onRunningChanged: () => this.statusChanged(),
          onLimited: () => this.wakeOnEndings(),
          ...(this.options.onAttemptEnd && { onAttemptEnd: this.options.onAttemptEnd }),
        }),
    );
    this.unsubscribe = await backend.subscribe(this.queue, (event) => this.onEvent(event), POOL_EVENTS);
    for (const worker of this.workers) {
      await backend.registerWorker(worker.registration(), registrationTtlMs);
    }
    await backend.recoverExpired(this.queue);
    if (this.stopRequested) {
      // A signal came while starting: start nothing more, shutdown() undoes the rest.
      this.state = 'running';
      return;
    }
    if (this.options.scheduler) {
      this.runner = new ScheduleRunner(backend, [this.queue], {
        pollIntervalMs: this.options.pollIntervalMs,
        onError: (err, where) => this.warn('could not fire or advance the schedules; the schedule runner tries again', { ...where, err }),
      });
      this.runner.start();
    }
    this.every('heartbeat', Math.max(100, Math.floor(registrationTtlMs / 3)), () => this.heartbeatAll());
    this.every('lease renewal', Math.max(100, Math.floor(leaseMs / 3)), () => this.renewLeases());
    this.every('expired lease recovery', Math.max(100, Math.floor(leaseMs / 2)), () => backend.recoverExpired(this.queue));
    this.every('log flush', 1_000, () => Promise.all(this.workers.map((w) => w.flushLogs())));
    this.state = 'running';
    for (const worker of this.workers) worker.start();
  }

  /**
   * Starts (if needed) and runs until stopped, by {@link WorkerPool.close} or a signal:
   * SIGHUP, SIGABRT, SIGQUIT and SIGTERM are gentle (finish running jobs), SIGINT is rough
   * (abort them; they go back to the queue). A second signal during a gentle stop turns it rough.
   * While the backend does not answer, the start is tried again, with a warning each time.
   */
  async listen(options: { onStarted?: () => void } = {}): Promise<void> {
    const finished = new Promise<void>((resolve) => (this.resolveListen = resolve));
    // Installed before starting: a signal at any moment is obeyed, also while connecting.
    if (this.options.handleSignals) this.installSignalHandlers();
    if (this.options.catchEscapedErrors) this.installEscapeHandlers();
    try {
      await this.startWhenReachable();
    } catch (err) {
      this.removeSignalHandlers?.();
      this.removeEscapeHandlers?.();
      throw err;
    }
    if (!this.stopRequested) options.onStarted?.();
    return finished;
  }

  /**
   * Starts; a start that fails because the backend does not answer (`BACKEND_UNAVAILABLE`: a server
   * restarting, a cluster failing over) is tried again until it succeeds or the pool is stopped, as a
   * running pool's claims are. Any other failure is thrown.
   */
  private async startWhenReachable(): Promise<void> {
    for (let waitMs = START_RETRY_FIRST_MS; this.state === 'idle'; waitMs = Math.min(waitMs * 2, START_RETRY_LAST_MS)) {
      try {
        await this.start();
      } catch (err) {
        if (!isSkqError(err) || err.code !== 'BACKEND_UNAVAILABLE' || this.stopRequested) throw err;
        this.warn(`could not start: the backend is not answering; trying again in ${waitMs} ms`, { err });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.wakeStart = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeStart = null;
        if (this.stopRequested) return;
      }
    }
  }

  /** Stops the pool: `gentle` (default) waits for running jobs, `rough` aborts them back onto the queue. */
  close(mode: 'gentle' | 'rough' = 'gentle'): Promise<void> {
    this.stopRequested = true;
    this.wakeStart?.();
    if (this.stopped && mode === 'rough' && this.state === 'stopping') {
      void Promise.all(this.workers.map((w) => w.stop('rough')));
      return this.stopped;
    }
    this.stopped ??= this.shutdown(mode);
    return this.stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(mode: 'gentle' | 'rough'): Promise<void> {
    // A stop during start-up waits for the start to settle, then undoes what it did.
    await this.starting?.catch(() => undefined);
    this.state = 'stopping';
    // Workers first: they stop claiming at once, even while the scheduler waits on a server that is away.
    const stopping = Promise.all(this.workers.map((w) => w.stop(mode)));
    await this.runner?.stop();
    // The registrations say `stopping` while the running jobs finish.
    if (this.backend && this.workers.length) await this.heartbeatAll().catch(() => undefined);
    await stopping;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.statusBeat) clearTimeout(this.statusBeat);
    this.statusBeat = null;
    const backend = this.backend;
    if (backend) {
      await this.unsubscribe?.().catch(() => undefined);
      const endings = await this.endings;
      this.endings = null;
      await endings?.().catch(() => undefined);
      for (const worker of this.workers) await backend.unregisterWorker(this.queue, worker.id).catch(() => undefined);
      if (this.backendUrl) await releaseBackend(this.backendUrl);
    }
    this.state = 'stopped';
    this.removeSignalHandlers?.();
    this.removeEscapeHandlers?.();
    this.resolveListen?.();
  }

  /**
   * An error that escapes a handler (a rejection nobody awaits, a throw in a timer it set) would
   * end the process and every job in it. Node still knows which job's async scope it came from:
   * that attempt fails with the error, as if the handler had thrown it, and the pool goes on.
   * An escaped error that no running job owns is logged with the jobs that were running.
   */
  private installEscapeHandlers(): void {
    this.removeEscapeHandlers = catchEscapedErrors((err, origin) => this.onEscapedError(err, origin));
  }

  private onEscapedError(err: unknown, origin: string): void {
    const context = activeJobContext();
    const job = context && { jobId: context.jobId, deliveryId: context.deliveryId, jobName: context.name, attempt: context.attempt };
    if (context) {
      if (this.workers.some((w) => w.abort(context.deliveryId, err, context.attempt))) {
        this.warn(`an ${origin} escaped job "${context.name}" ${context.jobId} (attempt ${context.attempt}); the attempt fails with it`, { ...job, origin, err });
        return;
      }
    }
    // Another pool in this process may own it (each pool hears every escaped error).
    if (context && context.queue !== this.queue) return;
    const running = this.workers.flatMap((w) => w.runningDeliveries()).map((d) => `"${d.name}" ${d.jobId}`);
    const from = context ? `job "${context.name}" ${context.jobId}, which is no longer running` : 'no job';
    this.warn(`an ${origin} from ${from}${running.length ? ` (running now: ${running.join(', ')})` : ''}`, { ...job, origin, err });
  }

  private warn(message: string, meta: LogMeta = {}): void {
    this.logger.warn({ queue: this.queue, ...meta }, message);
  }

  private installSignalHandlers(): void {
    // A gentle signal during a gentle stop turns it rough.
    this.removeSignalHandlers = handleStopSignals((kind) => void this.close(kind === 'gentle' && this.state === 'stopping' ? 'rough' : kind));
  }

  /**
   * From the first time limits held back the claim of an idle worker on, ends of deliveries wake the
   * workers held back: one of them may have freed a group's place. (A busy worker claims again as its
   * own jobs end; a queue without limits never pays for these events.)
   */
  private wakeOnEndings(): void {
    if (this.endings) return;
    const backend = this.backend;
    if (!backend || this.state === 'stopping' || this.state === 'stopped') return;
    this.endings = backend
      .subscribe(this.queue, () => this.onEnding(), ENDING_EVENTS)
      .then((unsubscribe) => {
        // An end between the claim and this subscription was not heard: look once more.
        for (const worker of this.workers) if (worker.limited) worker.poke();
        return unsubscribe;
      })
      .catch((err: unknown) => {
        this.endings = null;
        this.warn('could not subscribe to job endings; workers held back by limits wake by polling', { err });
        return null;
      });
  }

  private onEnding(): void {
    for (const worker of this.workers) if (worker.limited) worker.poke();
  }

  private onEvent(event: JobEvent): void {
    if (WAKING_EVENTS.has(event.type)) {
      // An enqueued delivery addressed to one worker (a broadcast's, or one handed to a waiting claim) names it.
      const addressedTo = event.type === 'enqueued' ? event.workerId : null;
      for (const worker of this.workers) if (event.route === null || event.route === WHOLE_QUEUE || event.route === worker.route) worker.poke(addressedTo);
    } else if (event.type === 'cancel-requested' && event.deliveryId && event.jobId) {
      for (const worker of this.workers) worker.abort(event.deliveryId, cancellationError(event.jobId, event.queue));
    } else if (event.type === 'worker-command' && this.state === 'running') {
      const worker = this.workers.find((w) => w.id === event.workerId);
      // The command is on the registration: the heartbeat reads it, obeys and acknowledges.
      if (worker) void this.heartbeatOf(worker).catch((err: unknown) => this.warn('could not read a worker command', { workerId: worker.id, err }));
    }
  }

  /** The running jobs changed: heartbeat soon, so registrations show them within about a second. */
  private statusChanged(): void {
    if (this.statusBeat || this.state !== 'running') return;
    const delay = Math.max(0, this.lastStatusBeat + STATUS_BEAT_MS - Date.now());
    this.statusBeat = setTimeout(() => {
      this.statusBeat = null;
      this.lastStatusBeat = Date.now();
      this.heartbeatAll().catch((err: unknown) => this.warn('heartbeat failed', { err }));
    }, delay);
  }

  private heartbeatAll(): Promise<void> {
    return Promise.all(this.workers.map((worker) => this.heartbeatOf(worker))).then(() => undefined);
  }

  /**
   * Renews a worker's registration with its state and running jobs, then obeys a command found on
   * it and acknowledges that in the next heartbeat. Heartbeats run one after another.
   */
  private heartbeatOf(worker: RouteWorker, ack: { commandId: string; stopping: boolean } | null = null): Promise<void> {
    const beat = this.beats.then(async () => {
      const backend = this.backend!;
      const ttl = this.options.registrationTtlMs;
      const stopping = this.state === 'stopping' || ack?.stopping === true;
      const status = { state: stopping ? ('stopping' as const) : worker.state, runningJobIds: worker.runningJobIds(), obeyedCommandId: ack?.commandId ?? null };
      const info = await backend.heartbeat(this.queue, worker.id, ttl, status);
      if (!info) {
        await backend.registerWorker(worker.registration(), ttl);
        return null;
      }
      const command = pendingCommand(info, Date.now());
      return command && !this.obeyed.has(command.id) ? command : null;
    });
    this.beats = beat.then(
      () => undefined,
      () => undefined,
    );
    return beat.then((command) => (command ? this.obey(worker, command) : undefined));
  }

  /** Obeys a command, then stores the acknowledgement before a stop unregisters the worker. */
  private async obey(worker: RouteWorker, command: WorkerCommand): Promise<void> {
    this.obeyed.add(command.id);
    this.logger.info({ queue: this.queue, route: worker.route, workerId: worker.id, command: command.command, commandId: command.id }, `worker ${worker.id} obeys "${command.command}" (command ${command.id})`);
    const stop = command.command === 'stop' || command.command === 'stop-rough';
    if (command.command === 'pause') worker.hold();
    else if (command.command === 'resume') worker.release();
    await this.heartbeatOf(worker, { commandId: command.id, stopping: stop });
    // As the signals do: `stop` finishes the running jobs, `stop-rough` puts them back on the queue.
    if (stop) void this.close(command.command === 'stop' ? 'gentle' : 'rough');
  }

  /**
   * The renewal timer's turn: each worker's lease keeper renews its attempts' leases, all at once (on
   * SQLite in one commit). One that fails holds back none of the others; the first failure is reported.
   */
  private async renewLeases(): Promise<void> {
    const renewals = await Promise.allSettled(this.workers.map((worker) => worker.leases.renewAll()));
    const failed = renewals.find((renewal): renewal is PromiseRejectedResult => renewal.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private every(name: string, ms: number, task: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      task()
        .catch((err: unknown) => this.warn(`background task "${name}" failed`, { err }))
        .finally(() => (busy = false));
    }, ms);
    this.timers.push(timer);
  }

  private concurrencyOf(route: string): number {
    const { concurrency } = this.options;
    return typeof concurrency === 'number' ? concurrency : (concurrency[route] ?? 1);
  }
}
