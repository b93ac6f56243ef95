import { isSkqError, type LogMeta } from '@skq/core';
import { leaseOf, type ClaimedDelivery, type StorageBackend } from '@skq/core/backend';
import type { AttemptControl } from './attempt-control.js';
import { LogBuffer } from './log-buffer.js';
import { about, type ProgressSink } from './run-attempt.js';

/** Where an attempt's progress is stored, and where a write that failed is reported. */
export interface ProgressTarget {
  backend: StorageBackend;
  warn(message: string, meta?: LogMeta): void;
}

/** An attempt that has left its worker has nothing to wait for (one promise for all of them). */
const SETTLED = Promise.resolve();

/** At most one progress write per job in this many ms; reports in between replace each other. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * One attempt running on a worker: its delivery and control, its log buffer and, once the handler
 * reports progress, its progress writes (made on first use: most handlers never report).
 *
 * @example
 * ```ts
 * const run = new RunningAttempt(delivery, new AttemptControl(), valueLimit(backend.capabilities), { backend, warn });
 * const outcome = await runAttempt(delivery, { registry, workerId, controller: run.controller, sink: (line) => run.logs.push(line), progress: run });
 * await run.progress?.flush();
 * run.finished();
 * await run.done; // settled
 * ```
 */
export class RunningAttempt implements ProgressSink {
  readonly logs: LogBuffer;
  progress: ProgressWrites | null = null;
  /** A log write failed and was reported: the next failure in a row is not reported again. */
  logsFailing = false;
  private left = false;
  private leaving: Promise<void> | null = null;
  private settle: (() => void) | null = null;

  constructor(
    readonly delivery: ClaimedDelivery,
    readonly controller: AttemptControl,
    maxValueBytes: number,
    private readonly target: ProgressTarget,
  ) {
    this.logs = new LogBuffer(delivery.id, maxValueBytes);
  }

  /** The attempt left its worker: it settles {@link done}. */
  finished(): void {
    this.left = true;
    this.settle?.();
  }

  /**
   * Settles once the attempt has left its worker (its outcome and lines stored or given up). Made
   * when first asked for, by a stop: a promise per job would cost every job Node's async hooks.
   */
  get done(): Promise<void> {
    if (this.left) return SETTLED;
    return (this.leaving ??= new Promise<void>((resolve) => (this.settle = resolve)));
  }

  report(value: unknown): void {
    (this.progress ??= new ProgressWrites(this.target, this.delivery)).report(value);
  }
}

/**
 * A running job's progress reports: keeps the latest and writes it soon, at most one write per job
 * per {@link PROGRESS_INTERVAL_MS}, with at most one write in flight.
 *
 * @example
 * ```ts
 * const progress = new ProgressWrites({ backend, warn }, delivery);
 * progress.report(0.5);
 * progress.report(0.75); // replaces 0.5 if that was not written yet
 * await progress.flush(); // before the outcome: 0.75 is stored
 * ```
 */
export class ProgressWrites {
  private latest: unknown = null;
  private dirty = false;
  private lastWriteAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly target: ProgressTarget,
    private readonly delivery: ClaimedDelivery,
  ) {}

  /** Keeps the latest report and writes it soon. */
  report(value: unknown): void {
    this.latest = value;
    this.dirty = true;
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => this.write(), Math.max(0, this.lastWriteAt + PROGRESS_INTERVAL_MS - Date.now()));
  }

  /** Before the outcome: the last report is written, so it is never lost to coalescing. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (this.writing) await this.writing;
      else if (this.dirty) await this.write();
      else return;
    }
  }

  private write(): Promise<void> {
    this.timer = null;
    if (!this.dirty) return Promise.resolve();
    this.dirty = false;
    this.lastWriteAt = Date.now();
    const { delivery, target } = this;
    this.writing = target.backend
      .setProgress(delivery.queue, leaseOf(delivery), this.latest)
      .catch((err: unknown) => {
        // A lost lease is reported with the outcome; progress is best effort.
        if (!isSkqError(err, 'LEASE_LOST')) target.warn(`could not store the progress of job ${delivery.jobId}`, { ...about(delivery), err });
      })
      .finally(() => {
        this.writing = null;
        if (this.dirty && !this.timer) this.report(this.latest);
      });
    return this.writing;
  }
}
