import {
  SkqError,
  isSkqError,
  runAttempt,
  type ClaimedDelivery,
  type JobRegistry,
  type LogLine,
  type StorageBackend,
} from '@skq/core';

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
  /** Reports what a worker cannot hand to a job: a lost lease, an unreachable backend. */
  warn(message: string, err?: unknown): void;
}

interface Running {
  delivery: ClaimedDelivery;
  controller: AbortController;
  logs: LogLine[];
  done: Promise<void>;
}

/**
 * Consumes one route: claims as many jobs as it has free slots, runs them, reports each outcome,
 * and sleeps until a wake-up, the next delayed job or the poll interval.
 */
export class RouteWorker {
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  /** Jobs this worker finished since it started, by outcome. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, cancelled: 0 };

  constructor(private readonly settings: RouteWorkerSettings) {}

  get id(): string {
    return this.settings.workerId;
  }

  get route(): string {
    return this.settings.route;
  }

  /** Ids of the deliveries running now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Something may be claimable: stop sleeping. */
  poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Aborts one running delivery with `reason` (a cancel request, a lost lease). */
  abort(deliveryId: string, reason: SkqError): void {
    this.running.get(deliveryId)?.controller.abort(reason);
  }

  /**
   * Stops claiming. Gentle: waits for running jobs. Rough: aborts them with INTERRUPTED first,
   * which puts them back on the queue with the attempt counted.
   */
  async stop(mode: 'gentle' | 'rough'): Promise<void> {
    this.stopping = true;
    this.poke();
    if (mode === 'rough') {
      for (const run of this.running.values()) {
        run.controller.abort(new SkqError('INTERRUPTED', 'the worker was stopped roughly (SIGINT)', { context: { workerId: this.id } }));
      }
    }
    await this.loopDone;
    await Promise.all([...this.running.values()].map((run) => run.done));
  }

  /** Writes buffered log lines of running jobs, so long jobs show progress. */
  async flushLogs(): Promise<void> {
    const lines = [...this.running.values()].flatMap((run) => run.logs.splice(0));
    if (lines.length) await this.settings.backend.appendLogs(this.settings.queue, lines);
  }

  private async loop(): Promise<void> {
    const { backend, concurrency } = this.settings;
    let failures = 0;
    while (!this.stopping) {
      const free = concurrency - this.running.size;
      if (free <= 0) {
        await this.sleep(this.settings.pollIntervalMs);
        continue;
      }
      let nextRunAt: number | null = null;
      try {
        const claimed = await backend.claim({
          queue: this.settings.queue,
          route: this.settings.route,
          workerId: this.id,
          limit: free,
          leaseMs: this.settings.leaseMs,
        });
        failures = 0;
        for (const delivery of claimed.deliveries) this.run(delivery);
        if (claimed.deliveries.length === free) continue;
        nextRunAt = claimed.nextRunAt;
      } catch (err) {
        failures += 1;
        this.settings.warn(`claim failed on route ${this.settings.route}; retrying`, err);
        await this.sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      const untilDue = nextRunAt === null ? Infinity : Math.max(0, nextRunAt - Date.now());
      await this.sleep(Math.min(untilDue, this.settings.pollIntervalMs));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private run(delivery: ClaimedDelivery): void {
    const controller = new AbortController();
    const logs: LogLine[] = [];
    const run: Running = { delivery, controller, logs, done: Promise.resolve() };
    if (delivery.cancelRequested) controller.abort(cancellationError(delivery.jobId, delivery.queue));
    run.done = this.execute(run).finally(() => {
      this.running.delete(delivery.id);
      this.poke();
    });
    this.running.set(delivery.id, run);
  }

  private async execute(run: Running): Promise<void> {
    const { delivery, controller, logs } = run;
    const { backend } = this.settings;
    const outcome = await runAttempt(delivery, {
      registry: this.settings.registry,
      workerId: this.id,
      controller,
      sink: (line) => logs.push({ ...line, deliveryId: delivery.id, at: Date.now() }),
    });
    await this.report(delivery, async () => {
      if (logs.length) await backend.appendLogs(delivery.queue, logs.splice(0));
      if (outcome.kind === 'succeeded') {
        await backend.complete(delivery.queue, delivery.id, this.id, outcome.result);
        this.stats.succeeded += 1;
      } else {
        const ended = await backend.fail(delivery.queue, delivery.id, {
          workerId: this.id,
          error: outcome.error,
          retryAt: outcome.kind === 'failed' ? outcome.retryAt : null,
          cancelled: outcome.kind === 'cancelled',
        });
        this.stats[ended === 'retrying' ? 'retried' : ended] += 1;
      }
    });
  }

  /** Reports an outcome, retrying while the backend is unreachable; a lost lease means another worker owns the job now. */
  private async report(delivery: ClaimedDelivery, write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await write();
      } catch (err) {
        if (isSkqError(err, 'LEASE_LOST')) return this.settings.warn(`lease lost on job ${delivery.jobId}; its result was dropped`, err);
        if (attempt >= 5) return this.settings.warn(`could not report job ${delivery.jobId}; its lease will expire and it will run again`, err);
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}

/** The abort reason of a cancelled job. */
export function cancellationError(jobId: string, queue: string): SkqError {
  return new SkqError('CANCELLED', `job ${jobId} was cancelled`, { context: { jobId, queue } });
}
