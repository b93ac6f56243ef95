import { SkqError, isSkqError, type LogMeta } from '@skq/core';
import { chargedAttempts, leaseOf, type ClaimedDelivery, type FailRequest, type StorageBackend } from '@skq/core/backend';
import { about, type AttemptOutcome } from './run-attempt.js';

/** An attempt whose outcome is stored: `retrying` failed and runs again later. */
export interface AttemptEnd {
  queue: string;
  route: string;
  name: string;
  outcome: 'succeeded' | 'failed' | 'retrying' | 'cancelled';
  /** How long the handler ran. */
  durationMs: number;
}

/** What an {@link OutcomeWriter} needs from its route worker. */
export interface OutcomeWriterSettings {
  backend: StorageBackend;
  /** The worker that ran the attempts: a LEASE_LOST naming it as the one that succeeded lost nothing. */
  workerId: string;
  /** Reports an outcome that was dropped or could not be stored; `meta` names the job and error. */
  warn(message: string, meta?: LogMeta): void;
  /** Told of every attempt once its outcome is stored (for metrics). */
  onAttemptEnd?: ((ended: AttemptEnd) => void) | undefined;
}

/** How many times one outcome is tried while the backend is unreachable. */
const REPORT_TRIES = 5;

/**
 * Stores attempts' outcomes under their leases (complete or fail), retrying while the backend is
 * unreachable, and counts them. It never throws: an outcome it cannot store is reported, and the
 * lease then expires and the job runs again.
 *
 * @example
 * ```ts
 * const outcomes = new OutcomeWriter({ backend, workerId, warn: (message, meta) => logger.warn(meta ?? {}, message) });
 * const startedAt = performance.now();
 * const outcome = await runAttempt(delivery, { registry, workerId, controller, sink });
 * await outcomes.write(delivery, outcome, performance.now() - startedAt);
 * outcomes.stats.succeeded; // 1 if it succeeded
 * ```
 */
export class OutcomeWriter {
  /** Jobs whose outcome was stored, by outcome. */
  readonly stats = { succeeded: 0, failed: 0, retried: 0, cancelled: 0 };

  constructor(private readonly settings: OutcomeWriterSettings) {}

  /** Stores `outcome`; a store that refuses its values fails the job once, saying why, instead. */
  write(delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number): Promise<void> {
    return new Promise((resolve) => this.store(delivery, outcome, durationMs, resolve));
  }

  /**
   * {@link write} with a callback: `done` is called once the outcome is stored, dropped or given
   * up. A success stored at the first try (nearly every job) makes one promise, the reaction on the
   * store's: no async function's frame, no awaits.
   */
  store(delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number, done: () => void): void {
    if (outcome.kind !== 'succeeded') return void this.writeWithRetries(delivery, outcome, durationMs, null).then(done);
    let completed: Promise<void>;
    try {
      completed = this.settings.backend.complete(delivery.queue, leaseOf(delivery), outcome.result);
    } catch (err) {
      // A store whose `complete` throws instead of rejecting is retried and reported the same way.
      return void this.writeWithRetries(delivery, outcome, durationMs, { err }).then(done);
    }
    completed.then(
      () => {
        this.stored(delivery, 'succeeded', durationMs);
        done();
      },
      (err: unknown) => void this.writeWithRetries(delivery, outcome, durationMs, { err }).then(done),
    );
  }

  /** Stores `outcome`, retrying while the backend is unreachable; `firstTry` is how the first try failed, if it was made. */
  private async writeWithRetries(delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number, firstTry: { err: unknown } | null): Promise<void> {
    let stored = outcome;
    let failed = firstTry;
    // Retries while the backend is unreachable; a lost lease means another worker owns the job now.
    for (let attempt = 1; ; attempt += 1) {
      try {
        if (failed) throw failed.err;
        const { backend } = this.settings;
        let ended: AttemptEnd['outcome'] = 'succeeded';
        if (stored.kind === 'succeeded') await backend.complete(delivery.queue, leaseOf(delivery), stored.result);
        else ended = await backend.fail(delivery.queue, leaseOf(delivery), failRequest(delivery, stored, backend.capabilities.groups === true));
        this.stored(delivery, ended, durationMs);
        return;
      } catch (err) {
        failed = null;
        // A store that refuses the outcome's values refuses them again on every try: the job fails once, saying why, instead of running again after its lease.
        if (stored === outcome && isSkqError(err, 'ARGS_INVALID')) {
          // A result is refused whole; an error was already cut to fit, and the store refused it still.
          const [code, what] = outcome.kind === 'succeeded' ? (['RESULT_TOO_LARGE', 'result'] as const) : (['ERROR_TOO_LARGE', `error (${outcome.kind}), even cut to fit,`] as const);
          stored = { kind: 'failed', retryAt: null, error: new SkqError(code, `the store refused this attempt's ${what}: ${err.message}`, { cause: err, context: { jobId: delivery.jobId, deliveryId: delivery.id, queue: delivery.queue } }).toJSON() };
          attempt = 0;
          continue;
        }
        if (isSkqError(err, 'LEASE_LOST')) {
          // A report that finds this attempt's own outcome already stored (a retry after a lost reply, or a
          // server that applied the write but answered no) lost nothing.
          if (reportedBefore(err, delivery, this.settings.workerId)) return;
          return this.settings.warn(`lease lost on job ${delivery.jobId}; its result was dropped`, { ...about(delivery), err });
        }
        if (attempt >= REPORT_TRIES) return this.settings.warn(`could not report job ${delivery.jobId}; its lease will expire and it will run again`, { ...about(delivery), attempts: attempt, err });
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  /** The outcome is stored: counted, and told. */
  private stored(delivery: ClaimedDelivery, ended: AttemptEnd['outcome'], durationMs: number): void {
    this.stats[ended === 'retrying' ? 'retried' : ended] += 1;
    this.ended(delivery, ended, durationMs);
  }

  private ended(delivery: ClaimedDelivery, outcome: AttemptEnd['outcome'], durationMs: number): void {
    try {
      this.settings.onAttemptEnd?.({ queue: delivery.queue, route: delivery.route, name: delivery.name, outcome, durationMs });
    } catch (err) {
      this.settings.warn('an onAttemptEnd listener threw', { ...about(delivery), err });
    }
  }
}

/**
 * How a failed attempt is stored. A rate-limited one is not charged and holds its group, on a store
 * with groups; elsewhere it is a `RetryAfter`, charged, and final once the attempts are spent.
 */
function failRequest(delivery: ClaimedDelivery, outcome: Exclude<AttemptOutcome, { kind: 'succeeded' }>, groups: boolean): FailRequest {
  if (outcome.kind === 'cancelled') return { error: outcome.error, retryAt: null, cancelled: true };
  if (!outcome.rateLimited) return { error: outcome.error, retryAt: outcome.retryAt, cancelled: false };
  if (groups) return { error: outcome.error, retryAt: outcome.retryAt, cancelled: false, rateLimited: { holdGroupUntil: delivery.group ? outcome.retryAt : null } };
  return { error: outcome.error, retryAt: chargedAttempts(delivery) >= delivery.maxAttempts ? null : outcome.retryAt, cancelled: false };
}

/**
 * Whether a LEASE_LOST found this very attempt already succeeded under this worker: only its own
 * completion can have done that. (A queued or failed state may be a lease recovery: that is reported.)
 */
function reportedBefore(err: SkqError, delivery: ClaimedDelivery, workerId: string): boolean {
  const found = err.context.found as { state?: string; attempts?: number; workerId?: string | null } | undefined;
  return found?.state === 'succeeded' && found.workerId === workerId && found.attempts === delivery.attempts;
}
