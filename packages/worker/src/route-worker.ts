import { hostname } from 'node:os';
import { type LogMeta } from '@skq/core';
import { valueLimit, type ClaimedDelivery, type JobRegistry, type StorageBackend, type WorkerRegistration } from '@skq/core/backend';
import { AttemptControl, cancellationError, interrupted } from './attempt-control.js';
import { LeaseKeeper } from './lease-keeper.js';
import { AttemptLogWrites } from './attempt-log-writes.js';
import { OutcomeWriter, type AttemptEnd } from './outcome-writer.js';
import { SlotPace, autoPrefetch } from './auto-prefetch.js';
import { about, startAttempt, type AttemptOptions, type AttemptOutcome } from './run-attempt.js';
import { RunningAttempt, type ProgressTarget } from './running-attempt.js';

/** What a route worker shares with its pool. */
export interface RouteWorkerSettings {
  queue: string;
  route: string;
  workerId: string;
  concurrency: number;
  /** Deliveries claimed beyond `concurrency`, held leased until a slot frees; `'auto'` by recent pace (see `prefetchNow`). Default 0 (the pool's default is `'auto'`). */
  prefetch?: number | 'auto';
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
  /** An idle worker's claim came back empty because limits held due work back: wake it when deliveries end. */
  onLimited?: () => void;
}

/** Claims in flight at once: one is answered while the next is on its way. */
const CLAIMS_IN_FLIGHT = 2;

/**
 * Consumes one route: claims jobs in chunks while it has free slots, runs them, reports each
 * outcome, and when the route is drained waits for a wake-up, the next delayed job or the poll
 * interval. Two claims may be in flight, so that the backend prepares the next chunk while this
 * process runs the last one, instead of the two taking turns. Its {@link LeaseKeeper} keeps the
 * leases of the attempts it runs; the pool's renewal timer drives it.
 *
 * @example
 * ```ts
 * const worker = new RouteWorker({ queue: 'demo', route: 'foo', workerId, concurrency: 4, leaseMs: 30_000, pollIntervalMs: 1_000, registry, backend, warn: (message) => console.warn(message) });
 * await backend.registerWorker(worker.registration(), 30_000);
 * worker.start();
 * setInterval(() => void worker.leases.renewAll(), 10_000);
 * // later
 * await worker.stop('gentle');
 * ```
 */
export class RouteWorker {
  /** Attempts running here, until their outcome and lines are stored or given up. */
  private readonly running = new Set<RunningAttempt>();
  /** Keeps the leases of the attempts running here. */
  readonly leases: LeaseKeeper;
  private readonly outcomes: OutcomeWriter;
  /** Where running attempts write their progress. */
  private readonly progressTarget: ProgressTarget;
  /** Handlers running now: what `concurrency` bounds. */
  private busy = 0;
  /** The recent pace of a slot, for `prefetch: 'auto'`. */
  private readonly pace: SlotPace;
  /** Claimed and leased, waiting for a slot (prefetch), oldest first. */
  private readonly waiting: { delivery: ClaimedDelivery; controller: AttemptControl }[] = [];
  /** Slots promised to claims in flight. */
  private reserved = 0;
  private claims = new Set<Promise<void>>();
  /** The last claim came back short: wait for a wake-up before claiming again. */
  private drained = false;
  /** The last claim came back full, or limits held due work back (or none was made yet): more may be due than one claim takes. */
  private backlog = true;
  private failures = 0;
  /** Claims in a row that took nothing and answered an instant already past (see claimChunk). */
  private pastDue = 0;
  /** Wake-ups so far: a claim that comes back short after one arrived claims again instead of sleeping. */
  private pokes = 0;
  /** Ends the waiting claim in flight (see claimChunk), if one is. */
  private waitingClaim: AbortController | null = null;
  /** The signal of waiting claims, kept for the next until one is called off (one a job was most of a job's garbage). */
  private callOff: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping: 'gentle' | 'rough' | null = null;
  /** Held by a `pause` command: claims nothing until `resume`. */
  private held = false;
  /** Set by {@link RouteWorker.start}, once the pool has registered it and renews its leases. */
  private started = false;
  private readonly logWrites: AttemptLogWrites;
  private readonly chunk: number;

  constructor(private readonly settings: RouteWorkerSettings) {
    this.chunk = Math.max(1, Math.ceil(settings.concurrency / 4));
    const { backend, queue, workerId, leaseMs, onAttemptEnd } = settings;
    const warn = (message: string, meta?: LogMeta) => this.warn(message, meta);
    this.leases = new LeaseKeeper({ backend, queue, workerId, leaseMs, warn });
    this.outcomes = new OutcomeWriter({ backend, workerId, warn, onAttemptEnd });
    this.progressTarget = { backend, warn };
    this.logWrites = new AttemptLogWrites({ backend, queue, warn });
    this.pace = new SlotPace(settings.concurrency);
  }

  get id(): string {
    return this.settings.workerId;
  }

  get route(): string {
    return this.settings.route;
  }

  /** Jobs this worker finished since it started, by outcome. */
  get stats(): OutcomeWriter['stats'] {
    return this.outcomes.stats;
  }

  /**
   * The registration that names this worker, for `registerWorker`: built afresh for each
   * registration, so `startedAt` is when this one began.
   */
  registration(): WorkerRegistration {
    return { id: this.id, queue: this.settings.queue, routes: [this.route], hostname: hostname(), pid: process.pid, startedAt: Date.now() };
  }

  /** A warning with this worker's route and id, and whatever job and error `meta` names. */
  private warn(message: string, meta: LogMeta = {}): void {
    this.settings.warn(message, { route: this.settings.route, workerId: this.id, ...meta });
  }

  /** The deliveries running now. */
  runningDeliveries(): ClaimedDelivery[] {
    return [...this.running].map((run) => run.delivery);
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

  /** The ids of the jobs this worker holds now: running, and prefetched (leased here, waiting for a slot). */
  runningJobIds(): string[] {
    return [...new Set([...[...this.running].map((run) => run.delivery), ...this.waiting.map((held) => held.delivery)].map((d) => d.jobId))];
  }

  /** Stops claiming (a `pause` command); running jobs go on. */
  hold(): void {
    this.held = true;
    this.waitingClaim?.abort();
  }

  /** Claims again after {@link RouteWorker.hold}. */
  release(): void {
    this.held = false;
    this.poke();
  }

  /** The last claim came back short because a group's or route's limits held due work back. */
  limited = false;

  /**
   * Something may be claimable (a wake-up event, a timer): claim again, ending a waiting claim in flight.
   * `addressedTo` is the worker an `enqueued` event names (a broadcast's, or the one a delivery was handed
   * to): another worker's delivery is none of this one's, and one handed to this worker's waiting claim
   * arrives with that claim's answer.
   */
  poke(addressedTo?: string | null): void {
    if (addressedTo && (addressedTo !== this.id || this.waitingClaim)) return;
    this.waitingClaim?.abort();
    this.pokes += 1;
    this.drained = false;
    this.pump();
  }

  /**
   * Aborts one running delivery with `reason` (a cancel request, an escaped error).
   * With `attempt`, only that attempt: a late answer about an earlier one must not end the next.
   */
  abort(deliveryId: string, reason: unknown, attempt?: number): boolean {
    let aborted = false;
    for (const run of [...this.running, ...this.waiting]) {
      if (run.delivery.id !== deliveryId || (attempt !== undefined && run.delivery.attempts !== attempt)) continue;
      run.controller.abort(reason);
      aborted = true;
    }
    return aborted;
  }

  /**
   * Stops claiming. Gentle: waits for running jobs, and runs the prefetched ones. Rough: aborts them
   * all with INTERRUPTED first, which puts them back on the queue with the attempt counted.
   */
  async stop(mode: 'gentle' | 'rough'): Promise<void> {
    if (this.stopping !== 'rough') this.stopping = mode;
    this.waitingClaim?.abort();
    this.logWrites.stop();
    if (this.timer) clearTimeout(this.timer);
    if (mode === 'rough') for (const run of [...this.running, ...this.waiting]) run.controller.abort(interrupted(this.id));
    while (this.claims.size > 0 || this.running.size > 0 || this.waiting.length > 0) {
      await Promise.all([...this.claims, ...[...this.running].map((run) => run.done)]);
    }
    this.logWrites.reportUnwrittenAtStop();
  }

  /**
   * Writes buffered log lines of running jobs, so long jobs show progress: one write for all of them
   * (a job whose own write is in flight waits for the next flush); lines a write failed to store stay.
   */
  flushLogs(): Promise<void> {
    return this.logWrites.flush(this.running);
  }

  private pump(): void {
    const { concurrency } = this.settings;
    const prefetch = this.prefetchNow();
    // Prefetched deliveries first: they are leased already. A paused or stopping worker runs them too.
    while (this.waiting.length > 0 && this.busy < concurrency) this.begin(this.waiting.shift()!);
    // One claim in flight after a short one: a wake-up is mostly for a job or a few, and a claim sent with a
    // second has its answer wait for the second's (Redis writes both replies together). A full answer claims on.
    const inFlight = this.backlog ? CLAIMS_IN_FLIGHT : 1;
    while (this.started && !this.stopping && !this.held && !this.drained && this.claims.size < inFlight) {
      // A slot frees when its handler returns; outcomes still being reported are bounded too.
      const held = this.waiting.length + this.reserved;
      const free = Math.min(concurrency + prefetch - this.busy, 2 * (concurrency + prefetch) - this.running.size) - held;
      if (free <= 0) return;
      if (prefetch === 0) {
        this.claimChunk(Math.min(free, this.chunk));
        continue;
      }
      // With prefetch, claim in batches of half the window (one transaction or round trip for many jobs), or all
      // that is free when a slot would go idle (at the start: the whole window). Half, so that two claims fit in
      // flight: the store prepares one while this process runs the other (claims of chunk + prefetch left room for
      // one, and Redis and the worker took turns idling).
      if (this.busy + held < concurrency) {
        // All that is free, in two claims when both may be in flight: quick jobs end together, all slots free at
        // once, and one claim of the whole window had the store and this process take turns idling.
        const first = this.claims.size + 1 < inFlight ? Math.min(free, Math.ceil((concurrency + prefetch) / 2)) : free;
        this.claimChunk(first);
        if (first < free) this.claimChunk(free - first);
        continue;
      }
      if (free < Math.ceil((concurrency + prefetch) / 2)) return;
      this.claimChunk(Math.ceil((concurrency + prefetch) / 2));
    }
  }

  /** How many deliveries to hold beyond `concurrency` now. */
  private prefetchNow(): number {
    const { prefetch = 0, concurrency } = this.settings;
    if (prefetch !== 'auto') return prefetch;
    return autoPrefetch(concurrency, this.pace.recentMs, this.settings.backend.capabilities.prefetchMax);
  }

  private claimChunk(limit: number): void {
    this.reserved += limit;
    const sentAt = Date.now();
    const pokesAtSend = this.pokes;
    const { backend, leaseMs, pollIntervalMs } = this.settings;
    // Without a backlog, on a store that can: a claim that waits for a job handed to it at enqueue (the
    // poll interval at most, and a quarter of the lease, which the hand-off starts), not for a wake-up
    // event and a second claim. The only claim in flight then, so the next job's handed to it.
    let waiting: AbortController | null = null;
    if (!this.backlog && backend.capabilities.waitingClaims === true) {
      if (!this.callOff || this.callOff.signal.aborted) this.callOff = new AbortController();
      this.waitingClaim = waiting = this.callOff;
    }
    const request = { queue: this.settings.queue, route: this.settings.route, workerId: this.id, limit, leaseMs };
    const claim = backend
      .claim(waiting ? { ...request, waitMs: Math.min(pollIntervalMs, Math.floor(leaseMs / 4)), signal: waiting.signal } : request)
      .then(
        async ({ deliveries, nextRunAt, paused, limited, waited }) => {
          this.failures = 0;
          // Due work held back by limits is a backlog too: its claims come back short as jobs end. A job
          // handed to a waiting claim is not: it came alone.
          this.backlog = (deliveries.length === limit && waited !== true) || limited === true;
          for (const { delivery, leaseEndsBy } of await this.leases.admit(deliveries, sentAt)) this.take(delivery, leaseEndsBy);
          // A paused route wakes on the backend's `resumed` event (the poll interval covers a missed one).
          // A wake-up that came while this claim was on its way may be for jobs it could not see: claim again.
          this.limited = limited === true && deliveries.length < limit;
          // Only an idle worker needs waking by others' endings: a busy one claims again as its own jobs end.
          if (this.limited && this.busy === 0 && this.waiting.length === 0 && deliveries.length === 0) this.settings.onLimited?.();
          let wait = nextRunAt === null || paused ? Infinity : nextRunAt - Date.now();
          // A store whose clock runs behind this one's answers an instant already past until its own
          // clock gets there: empty claims back off (1, 2, 4 … ms, up to the poll interval) instead of spinning.
          this.pastDue = deliveries.length === 0 && wait <= 0 ? this.pastDue + 1 : 0;
          if (this.pastDue > 0) wait = 2 ** Math.min(this.pastDue - 1, 16);
          // A waiting claim that waited, or took jobs, claims again (and waits again) instead of sleeping; so does a
          // claim sent with a backlog (or at the start) that came back short, on a store with waiting claims: the
          // next one waits, where a sleep would leave the next job to a wake-up event or the poll interval.
          const waitNext = waiting === null && backend.capabilities.waitingClaims === true && !this.limited && this.pastDue === 0;
          const claimAgain = this.pokes !== pokesAtSend || waitNext || (waiting !== null && this.pastDue === 0 && (waited === true || deliveries.length > 0));
          if (paused || (deliveries.length < limit && !claimAgain)) this.sleep(wait);
        },
        (err: unknown) => {
          this.failures += 1;
          // The store is in trouble: prefetch nothing until a job ends again.
          this.pace.forget();
          this.warn(`claim failed on route ${this.settings.route}; retrying`, { failures: this.failures, err });
          this.sleep(Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)));
        },
      )
      .finally(() => {
        if (this.waitingClaim === waiting) this.waitingClaim = null;
        this.reserved -= limit;
        this.claims.delete(claim);
        this.pump();
      });
    this.claims.add(claim);
  }

  /** Waits until a poke, `ms`, or the poll interval, whichever comes first. */
  private sleep(ms: number): void {
    this.drained = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poke(), Math.max(0, Math.min(ms, this.settings.pollIntervalMs)));
  }

  /** Takes a claimed delivery under the lease keeper, and runs it, or keeps it waiting for a slot (prefetch). */
  private take(delivery: ClaimedDelivery, leaseEndsBy: number): void {
    const controller = new AttemptControl();
    this.leases.hold(delivery, controller, leaseEndsBy);
    if (delivery.cancelRequested) controller.abort(cancellationError(delivery.jobId, delivery.queue));
    // Claimed while stopping roughly: straight back to the queue.
    if (this.stopping === 'rough') controller.abort(interrupted(this.id));
    if (this.busy < this.settings.concurrency && this.waiting.length === 0) this.begin({ delivery, controller });
    else {
      this.waiting.push({ delivery, controller });
      // A prefetched job shows as running, held by this worker: the registration says so too.
      this.settings.onRunningChanged?.();
    }
  }

  private begin({ delivery, controller }: { delivery: ClaimedDelivery; controller: AttemptControl }): void {
    const run = new RunningAttempt(delivery, controller, valueLimit(this.settings.backend.capabilities), this.progressTarget);
    this.busy += 1;
    this.running.add(run);
    this.settings.onRunningChanged?.();
    const { logs } = run;
    const startedAt = performance.now();
    const options: AttemptOptions = { registry: this.settings.registry, workerId: this.id, controller, sink: (line) => logs.push(line), progress: run, maxOutcomeBytes: valueLimit(this.settings.backend.capabilities) };
    startAttempt(delivery, options, (outcome) => {
      // A success with no progress and no lines to store first (nearly every job) goes on with
      // callbacks: an async function's frame and its awaits would cost every job Node's async hooks.
      if (outcome.kind === 'succeeded' && run.progress === null && logs.size === 0) this.storeSuccess(run, outcome, startedAt);
      else void this.settle(run, outcome, startedAt);
    });
  }

  /** Stores a success that has nothing else to store first; then its delivery leaves this worker. Never throws. */
  private storeSuccess(run: RunningAttempt, outcome: AttemptOutcome, startedAt: number): void {
    try {
      // Measured before the freed slot starts the next job.
      const durationMs = performance.now() - startedAt;
      this.slotFreed();
      this.outcomes.store(run.delivery, outcome, durationMs, () => {
        try {
          this.outcomeStored(startedAt);
        } catch (err) {
          this.warn('a worker failed after storing an outcome', { ...about(run.delivery), err });
        }
        if (run.logs.size === 0) this.leave(run);
        else void this.logWrites.writeLate(run).finally(() => this.leave(run));
      });
    } catch (err) {
      this.warn('a worker failed storing an outcome; its lease will expire and the job will run again', { ...about(run.delivery), err });
      this.leave(run);
    }
  }

  /** Stores an attempt's progress, lines and outcome, whatever they are; then its delivery leaves this worker. Never rejects. */
  private async settle(run: RunningAttempt, outcome: AttemptOutcome, startedAt: number): Promise<void> {
    try {
      const { delivery, logs } = run;
      const durationMs = performance.now() - startedAt;
      if (run.progress) await run.progress.flush();
      this.slotFreed();
      if (outcome.kind !== 'succeeded') {
        // Attempts that did not succeed are recorded with the logs (the last one is on the delivery too), for the monitor's timeline.
        const retry = outcome.kind === 'failed' && outcome.retryAt !== null ? `, retry at ${new Date(outcome.retryAt).toISOString()}` : '';
        const line = `attempt ${delivery.attempts} ${outcome.kind} after ${Math.round(durationMs)} ms on ${this.id}: ${outcome.error.message}${retry}`;
        logs.push({ stream: 'attempt', line });
      }
      // The lines go first, so a job seen ended shows its log; a log the store does not take never holds the outcome back.
      if (logs.size > 0) await this.logWrites.write(run);
      await this.outcomes.write(delivery, outcome, durationMs);
      this.outcomeStored(startedAt);
      await this.logWrites.writeLate(run);
    } finally {
      this.leave(run);
    }
  }

  /** The handler has returned: its slot is free while the outcome is still on its way to the backend. */
  private slotFreed(): void {
    this.busy -= 1;
    this.pump();
  }

  private outcomeStored(startedAt: number): void {
    // Limits held this worker's last claim back: the job that just ended may have freed its group's place.
    if (this.limited) this.poke();
    this.pace.stored(startedAt);
  }

  /** The attempt's delivery leaves this worker: its lease is no longer kept, and its slot's successor may be claimed. */
  private leave(run: RunningAttempt): void {
    try {
      run.logs.discard();
      this.running.delete(run);
      this.leases.release(run.delivery);
      this.settings.onRunningChanged?.();
      this.pump();
    } finally {
      // A stop waits for it: it must settle whatever went wrong above.
      run.finished();
    }
  }
}
