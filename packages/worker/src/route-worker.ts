import {
  AttemptControl,
  CONJUNCTION_JOB,
  SkqError,
  isSkqError,
  leaseOf,
  runAttempt,
  valueLimit,
  type AttemptOutcome,
  type ClaimedDelivery,
  type LeaseToken,
  type JobRegistry,
  type LogMeta,
  type ProgressSink,
  type StorageBackend,
} from '@skq/core';
import { LogBuffer, writeLogBuffers } from './log-buffer.js';

/** What a route worker shares with its pool. */
export interface RouteWorkerSettings {
  queue: string;
  route: string;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  registry: JobRegistry;
  backend: StorageBackend;
  /** Reports what a worker cannot hand to a job: a lost lease, an unreachable backend; `meta` says which job and error. */
  warn(message: string, meta?: LogMeta): void;
  /** The jobs running here changed: the registration should say so soon. */
  onRunningChanged?: () => void;
  /** Told of every attempt once its outcome is stored (for metrics). */
  onAttemptEnd?: (ended: AttemptEnd) => void;
}

/** An attempt whose outcome is stored: `retrying` failed and runs again later. */
export interface AttemptEnd {
  queue: string;
  route: string;
  name: string;
  outcome: 'succeeded' | 'failed' | 'retrying' | 'cancelled';
  /** How long the handler ran. */
  durationMs: number;
}

/** One attempt running here, with its log buffer and, once the handler reports progress, its progress writes. */
class Running implements ProgressSink {
  done: Promise<void> = Promise.resolve();
  readonly logs: LogBuffer;
  progress: ProgressWrites | null = null;
  /** A log write failed and was reported: the next failure in a row is not reported again. */
  logsFailing = false;

  constructor(
    private readonly worker: RouteWorker,
    readonly delivery: ClaimedDelivery,
    readonly controller: AttemptControl,
    /** The lease ends no earlier than this, by this process's clock: when the claim or last renewal was sent, plus the lease. */
    public leaseEndsBy: number,
    maxValueBytes: number,
  ) {
    this.logs = new LogBuffer(delivery.id, maxValueBytes);
  }

  report(value: unknown): void {
    this.worker.reportProgress(this, value);
  }
}

/** A running job's progress reports: the latest, and the one write that may be in flight. */
interface ProgressWrites {
  latest: unknown;
  dirty: boolean;
  lastWriteAt: number;
  timer: NodeJS.Timeout | null;
  writing: Promise<void> | null;
}

/** At most one progress write per job in this many ms; reports in between replace each other. */
const PROGRESS_INTERVAL_MS = 100;

/** Claims in flight at once: one is answered while the next is on its way. */
const CLAIMS_IN_FLIGHT = 2;

/**
 * Consumes one route: claims jobs in chunks while it has free slots, runs them, reports each
 * outcome, and when the route is drained waits for a wake-up, the next delayed job or the poll
 * interval. Two claims may be in flight, so that the backend prepares the next chunk while this
 * process runs the last one, instead of the two taking turns.
 */
export class RouteWorker {
  /**
   * By `<deliveryId>#<attempt>`: this worker may already run the next attempt of a delivery (taken back
   * while a server was away) while the outcome of the last one is still being reported.
   */
  private readonly running = new Map<string, Running>();
  /** Handlers running now: what `concurrency` bounds. */
  private busy = 0;
  /** Slots promised to claims in flight. */
  private reserved = 0;
  private claims = new Set<Promise<void>>();
  /** The last claim came back short: wait for a wake-up before claiming again. */
  private drained = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopping: 'gentle' | 'rough' | null = null;
  /** Held by a `pause` command: claims nothing until `resume`. */
  private held = false;
  /** Set by {@link RouteWorker.start}, once the pool has registered it and renews its leases. */
  private started = false;
  /** A flush of every running job's lines failed and was reported: the next failure in a row is not reported again. */
  private flushFailing = false;
  /** Resolves when the worker is asked to stop: log retries after an outcome end then instead of holding the stop back. */
  private readonly stopAsked: Promise<void>;
  private askStop!: () => void;
  /** Lines attempts still held when the stop ended their retries, by job: reported in one warning. */
  private readonly unwrittenAtStop = new Map<string, number>();
  private readonly chunk: number;
  /** Jobs this worker finished since it started, by outcome. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, cancelled: 0 };

  constructor(private readonly settings: RouteWorkerSettings) {
    this.chunk = Math.max(1, Math.ceil(settings.concurrency / 4));
    this.stopAsked = new Promise<void>((resolve) => (this.askStop = resolve));
  }

  get id(): string {
    return this.settings.workerId;
  }

  get route(): string {
    return this.settings.route;
  }

  /** A warning with this worker's route and id, and whatever job and error `meta` names. */
  private warn(message: string, meta: LogMeta = {}): void {
    this.settings.warn(message, { route: this.settings.route, workerId: this.id, ...meta });
  }

  /** The leases of the attempts running now. */
  leases(): LeaseToken[] {
    return [...this.running.values()].map((run) => leaseOf(run.delivery));
  }

  /** The deliveries running now. */
  runningDeliveries(): ClaimedDelivery[] {
    return [...this.running.values()].map((run) => run.delivery);
  }

  /** Claims from now on; until then wake-ups (events that arrive while the pool registers) claim nothing. */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** What the worker is doing, for its registration. */
  get state(): 'running' | 'paused' | 'stopping' {
    return this.stopping ? 'stopping' : this.held ? 'paused' : 'running';
  }

  /** The ids of the jobs running now. */
  runningJobIds(): string[] {
    return [...new Set([...this.running.values()].map((run) => run.delivery.jobId))];
  }

  /** Stops claiming (a `pause` command); running jobs go on. */
  hold(): void {
    this.held = true;
  }

  /** Claims again after {@link RouteWorker.hold}. */
  release(): void {
    this.held = false;
    this.poke();
  }

  /** Something may be claimable (a wake-up event, a timer): claim again. */
  poke(): void {
    this.drained = false;
    this.pump();
  }

  /**
   * Aborts one running delivery with `reason` (a cancel request, a lost lease, an escaped error).
   * With `attempt`, only that attempt: a late answer about an earlier one must not end the next.
   */
  abort(deliveryId: string, reason: unknown, attempt?: number): boolean {
    let aborted = false;
    for (const run of this.running.values()) {
      if (run.delivery.id !== deliveryId || (attempt !== undefined && run.delivery.attempts !== attempt)) continue;
      run.controller.abort(reason);
      aborted = true;
    }
    return aborted;
  }

  /**
   * Stops claiming. Gentle: waits for running jobs. Rough: aborts them with INTERRUPTED first,
   * which puts them back on the queue with the attempt counted.
   */
  async stop(mode: 'gentle' | 'rough'): Promise<void> {
    if (this.stopping !== 'rough') this.stopping = mode;
    this.askStop();
    if (this.timer) clearTimeout(this.timer);
    if (mode === 'rough') for (const run of this.running.values()) run.controller.abort(interrupted(this.id));
    while (this.claims.size > 0 || this.running.size > 0) {
      await Promise.all([...this.claims, ...[...this.running.values()].map((run) => run.done)]);
    }
    if (this.unwrittenAtStop.size) {
      const lines = [...this.unwrittenAtStop.values()].reduce((a, b) => a + b, 0);
      const jobIds = [...this.unwrittenAtStop.keys()];
      this.unwrittenAtStop.clear();
      this.warn(`${lines} log lines of job ${jobIds.join(', ')} could not be stored before the worker stopped and are dropped`, { jobIds });
    }
  }

  /**
   * Writes buffered log lines of running jobs, so long jobs show progress: one write for all of them
   * (a job whose own write is in flight waits for the next flush); lines a write failed to store stay.
   */
  async flushLogs(): Promise<void> {
    const buffers = [...this.running.values()].map((run) => run.logs);
    const waiting = buffers.reduce((n, logs) => n + logs.size, 0);
    try {
      await writeLogBuffers(this.settings.backend, this.settings.queue, buffers);
      this.flushFailing = false;
    } catch (err) {
      if (!this.flushFailing) this.warn(`could not write ${waiting} log lines of ${buffers.length} running jobs; keeping them for the next try`, { err });
      this.flushFailing = true;
    }
  }

  /** Writes an attempt's buffered lines; a failure is reported once per run of failures, and the lines are kept. */
  private async writeLogs(run: Running): Promise<boolean> {
    try {
      await run.logs.write(this.settings.backend, run.delivery.queue);
      run.logsFailing = false;
      return true;
    } catch (err) {
      if (!run.logsFailing) this.warn(`could not write ${run.logs.size} log lines of job ${run.delivery.jobId}; keeping them for the next try`, { ...about(run.delivery), err });
      run.logsFailing = true;
      return false;
    }
  }

  private pump(): void {
    const { concurrency } = this.settings;
    while (this.started && !this.stopping && !this.held && !this.drained && this.claims.size < CLAIMS_IN_FLIGHT) {
      // A slot frees when its handler returns; outcomes still being reported are bounded too.
      const free = Math.min(concurrency - this.busy, 2 * concurrency - this.running.size) - this.reserved;
      if (free <= 0) return;
      this.claimChunk(Math.min(free, this.chunk));
    }
  }

  private claimChunk(limit: number): void {
    this.reserved += limit;
    const sentAt = Date.now();
    const claim = this.settings.backend
      .claim({ queue: this.settings.queue, route: this.settings.route, workerId: this.id, limit, leaseMs: this.settings.leaseMs })
      .then(
        async ({ deliveries, nextRunAt, paused }) => {
          this.failures = 0;
          for (const [delivery, leaseEndsBy] of await this.stillLeased(deliveries, sentAt)) this.run(delivery, leaseEndsBy);
          // A paused route wakes on the backend's `resumed` event (the poll interval covers a missed one).
          if (paused || deliveries.length < limit) this.sleep(nextRunAt === null || paused ? Infinity : nextRunAt - Date.now());
        },
        (err: unknown) => {
          this.failures += 1;
          this.warn(`claim failed on route ${this.settings.route}; retrying`, { failures: this.failures, err });
          this.sleep(Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)));
        },
      )
      .finally(() => {
        this.reserved -= limit;
        this.claims.delete(claim);
        this.pump();
      });
    this.claims.add(claim);
  }

  /**
   * The claimed deliveries whose lease leaves time to run, with when each lease ends at the earliest.
   * A claim answered late (a server paused or stalled after it set the lease, a slow network) may carry
   * leases nearly or wholly spent, which another worker may take back before the first renewal: those
   * are renewed before their handlers start, and a delivery whose lease could not be renewed is left to
   * whoever holds it now. Judged by this process's clock from when the claim was sent, never the server's.
   */
  private async stillLeased(deliveries: ClaimedDelivery[], sentAt: number): Promise<[ClaimedDelivery, number][]> {
    const { leaseMs } = this.settings;
    if (deliveries.length === 0 || Date.now() - sentAt < leaseMs / 2) return deliveries.map((d) => [d, sentAt + leaseMs]);
    const renewAt = Date.now();
    const renewed = await this.renew(deliveries.map(leaseOf));
    const lost = deliveries.filter((d) => !renewed.has(d.id));
    if (lost.length) this.warn(`${lost.length} claimed jobs had lost their lease before they could start (${lost.map((d) => d.jobId).join(', ')}); not running them`, { jobIds: lost.map((d) => d.jobId) });
    return deliveries.filter((d) => renewed.has(d.id)).map((d) => [d, renewAt + leaseMs]);
  }

  /** Renews leases now; the ids of the deliveries whose lease was renewed (none if the backend failed). */
  private async renew(leases: LeaseToken[]): Promise<Set<string>> {
    const { leaseMs, backend, queue } = this.settings;
    return backend.extendLease(queue, leases, leaseMs).then(
      (held) => new Set(held.map((lease) => lease.deliveryId)),
      (err: unknown) => {
        this.warn(`could not renew ${leases.length} leases that may have run out; leaving those jobs to be taken back`, { deliveryIds: leases.map((l) => l.deliveryId), err });
        return new Set<string>();
      },
    );
  }

  /** A renewal sent at `sentAt` kept this attempt's lease: it ends no earlier than `sentAt` plus the lease. */
  leaseRenewed(lease: LeaseToken, sentAt: number): void {
    const run = this.running.get(`${lease.deliveryId}#${lease.attempt}`);
    if (run) run.leaseEndsBy = Math.max(run.leaseEndsBy, sentAt + this.settings.leaseMs);
  }

  /** Waits until a poke, `ms`, or the poll interval, whichever comes first. */
  private sleep(ms: number): void {
    this.drained = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poke(), Math.max(0, Math.min(ms, this.settings.pollIntervalMs)));
  }

  private run(delivery: ClaimedDelivery, leaseEndsBy: number): void {
    const controller = new AttemptControl();
    const run = new Running(this, delivery, controller, leaseEndsBy, valueLimit(this.settings.backend.capabilities));
    // Before each further part of a conjunction: a lease that may have run out (the process was stalled) is renewed first, or the part is not started.
    if (delivery.name === CONJUNCTION_JOB) {
      controller.leaseCheck = async () => {
        const { leaseMs } = this.settings;
        if (Date.now() < run.leaseEndsBy - leaseMs / 2) return true;
        const sentAt = Date.now();
        if (!(await this.renew([leaseOf(delivery)])).has(delivery.id)) return false;
        run.leaseEndsBy = sentAt + leaseMs;
        return true;
      };
    }
    if (delivery.cancelRequested) controller.abort(cancellationError(delivery.jobId, delivery.queue));
    // Claimed while stopping roughly: straight back to the queue.
    if (this.stopping === 'rough') controller.abort(interrupted(this.id));
    this.busy += 1;
    const key = `${delivery.id}#${delivery.attempts}`;
    this.running.set(key, run);
    this.settings.onRunningChanged?.();
    run.done = this.execute(run).finally(() => {
      this.running.delete(key);
      this.settings.onRunningChanged?.();
      this.pump();
    });
  }

  private async execute(run: Running): Promise<void> {
    const { delivery, controller, logs } = run;
    const startedAt = performance.now();
    const maxOutcomeBytes = valueLimit(this.settings.backend.capabilities);
    const outcome = await runAttempt(delivery, {
      registry: this.settings.registry,
      workerId: this.id,
      controller,
      sink: (line) => logs.push(line),
      progress: run,
      maxOutcomeBytes,
    });
    const durationMs = performance.now() - startedAt;
    if (run.progress) await this.flushProgress(run.progress, run);
    // The handler has returned: its slot is free while the outcome is still on its way to the backend.
    this.busy -= 1;
    this.pump();
    if (outcome.kind !== 'succeeded') {
      // Attempts that did not succeed are recorded with the logs (the last one is on the delivery too), for the monitor's timeline.
      const retry = outcome.kind === 'failed' && outcome.retryAt !== null ? `, retry at ${new Date(outcome.retryAt).toISOString()}` : '';
      const line = `attempt ${delivery.attempts} ${outcome.kind} after ${Math.round(durationMs)} ms on ${this.id}: ${outcome.error.message}${retry}`;
      logs.push({ stream: 'attempt', line });
    }
    // The lines go first, so a job seen ended shows its log; a log the store does not take never holds the outcome back.
    await this.writeLogs(run);
    let stored = outcome;
    await this.report(delivery, async () => {
      try {
        await this.store(delivery, stored, durationMs);
      } catch (err) {
        // A store that refuses the outcome's values refuses them again on every try: the job fails once, saying why, instead of running again after its lease.
        if (stored !== outcome || !isSkqError(err, 'ARGS_INVALID')) throw err;
        // A result is refused whole; an error was already cut to fit, and the store refused it still.
        const [code, what] = outcome.kind === 'succeeded' ? (['RESULT_TOO_LARGE', 'result'] as const) : (['ERROR_TOO_LARGE', `error (${outcome.kind}), even cut to fit,`] as const);
        stored = { kind: 'failed', retryAt: null, error: new SkqError(code, `the store refused this attempt's ${what}: ${err.message}`, { cause: err, context: { jobId: delivery.jobId, deliveryId: delivery.id, queue: delivery.queue } }).toJSON() };
        await this.store(delivery, stored, durationMs);
      }
    });
    // Lines the store did not take before the outcome: a few more tries, then they are reported lost, never silently.
    // A stop ends the tries at once (the stop reports what is left, in one warning) instead of waiting them out.
    for (let attempt = 1; logs.size > 0; attempt += 1) {
      if (attempt > 1 && (await this.writeLogs(run))) break;
      if (this.stopping) {
        this.unwrittenAtStop.set(delivery.jobId, (this.unwrittenAtStop.get(delivery.jobId) ?? 0) + logs.size);
        break;
      }
      if (attempt >= 5) {
        this.warn(`${logs.size} log lines of job ${delivery.jobId} could not be stored and are dropped`, about(delivery));
        break;
      }
      await this.pauseUnlessStopped(200 * attempt);
    }
    logs.discard();
  }

  /** Waits `ms` on a timer that keeps no process alive, or less if the worker is asked to stop. */
  private async pauseUnlessStopped(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)).unref());
    await Promise.race([elapsed, this.stopAsked]);
    clearTimeout(timer);
  }

  /** Stores an attempt's outcome: complete or fail under its lease. */
  private async store(delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number): Promise<void> {
    const { backend } = this.settings;
    if (outcome.kind === 'succeeded') {
      await backend.complete(delivery.queue, leaseOf(delivery), outcome.result);
      this.stats.succeeded += 1;
      this.ended(delivery, 'succeeded', durationMs);
      return;
    }
    const ended = await backend.fail(delivery.queue, leaseOf(delivery), {
      error: outcome.error,
      retryAt: outcome.kind === 'failed' ? outcome.retryAt : null,
      cancelled: outcome.kind === 'cancelled',
    });
    this.stats[ended === 'retrying' ? 'retried' : ended] += 1;
    this.ended(delivery, ended, durationMs);
  }

  private ended(delivery: ClaimedDelivery, outcome: AttemptEnd['outcome'], durationMs: number): void {
    try {
      this.settings.onAttemptEnd?.({ queue: delivery.queue, route: delivery.route, name: delivery.name, outcome, durationMs });
    } catch (err) {
      this.warn('an onAttemptEnd listener threw', { ...about(delivery), err });
    }
  }

  /** Keeps the latest report and writes it soon: at most one write per job per {@link PROGRESS_INTERVAL_MS}. */
  reportProgress(run: Running, value: unknown): void {
    const progress = (run.progress ??= { latest: null, dirty: false, lastWriteAt: 0, timer: null, writing: null });
    progress.latest = value;
    progress.dirty = true;
    if (progress.timer || progress.writing) return;
    progress.timer = setTimeout(() => this.writeProgress(progress, run), Math.max(0, progress.lastWriteAt + PROGRESS_INTERVAL_MS - Date.now()));
  }

  private writeProgress(progress: ProgressWrites, run: Running): Promise<void> {
    progress.timer = null;
    if (!progress.dirty) return Promise.resolve();
    progress.dirty = false;
    progress.lastWriteAt = Date.now();
    progress.writing = this.settings.backend
      .setProgress(run.delivery.queue, leaseOf(run.delivery), progress.latest)
      .catch((err: unknown) => {
        // A lost lease is reported with the outcome; progress is best effort.
        if (!isSkqError(err, 'LEASE_LOST')) this.warn(`could not store the progress of job ${run.delivery.jobId}`, { ...about(run.delivery), err });
      })
      .finally(() => {
        progress.writing = null;
        if (progress.dirty && !progress.timer) this.reportProgress(run, progress.latest);
      });
    return progress.writing;
  }

  /** Before the outcome: the last progress report is written, so it is never lost to coalescing. */
  private async flushProgress(progress: ProgressWrites, run: Running): Promise<void> {
    for (;;) {
      if (progress.timer) clearTimeout(progress.timer);
      progress.timer = null;
      if (progress.writing) await progress.writing;
      else if (progress.dirty) await this.writeProgress(progress, run);
      else return;
    }
  }

  /** Reports an outcome, retrying while the backend is unreachable; a lost lease means another worker owns the job now. */
  private async report(delivery: ClaimedDelivery, write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await write();
      } catch (err) {
        if (isSkqError(err, 'LEASE_LOST')) {
          // A report that finds this attempt's own outcome already stored (a retry after a lost reply, or a
          // server that applied the write but answered no) lost nothing.
          if (reportedBefore(err, delivery, this.id)) return;
          return this.warn(`lease lost on job ${delivery.jobId}; its result was dropped`, { ...about(delivery), err });
        }
        if (attempt >= 5) return this.warn(`could not report job ${delivery.jobId}; its lease will expire and it will run again`, { ...about(delivery), attempts: attempt, err });
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}

/**
 * Whether a LEASE_LOST found this very attempt already succeeded under this worker: only its own
 * completion can have done that. (A queued or failed state may be a lease recovery: that is reported.)
 */
function reportedBefore(err: SkqError, delivery: ClaimedDelivery, workerId: string): boolean {
  const found = err.context.found as { state?: string; attempts?: number; workerId?: string | null } | undefined;
  return found?.state === 'succeeded' && found.workerId === workerId && found.attempts === delivery.attempts;
}

function interrupted(workerId: string): SkqError {
  return new SkqError('INTERRUPTED', 'the worker was stopped roughly (SIGINT)', { context: { workerId } });
}

/** The ids a warning about one delivery carries. */
function about(delivery: ClaimedDelivery): LogMeta {
  return { jobId: delivery.jobId, deliveryId: delivery.id };
}

/** The abort reason of a cancelled job. */
export function cancellationError(jobId: string, queue: string): SkqError {
  return new SkqError('CANCELLED', `job ${jobId} was cancelled`, { context: { jobId, queue } });
}
