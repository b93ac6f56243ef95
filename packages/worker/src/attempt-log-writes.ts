import { type LogMeta } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
import { writeLogBuffers } from './log-buffer.js';
import { about } from './run-attempt.js';
import type { RunningAttempt } from './running-attempt.js';

/** What {@link AttemptLogWrites} needs from its route worker. */
export interface AttemptLogWritesSettings {
  backend: StorageBackend;
  queue: string;
  /** Reports lines that could not be stored; `meta` names the job and error. */
  warn(message: string, meta?: LogMeta): void;
}

/** Tries of an attempt's lines after its outcome before they are reported lost. */
const LATE_TRIES = 5;

/**
 * Stores the log lines of a route worker's attempts: every running job's in one write per flush,
 * an attempt's own before its outcome, and those the store did not take by then (or logged after
 * it) in a few more tries. Lines are never dropped silently: a failure is reported once per run of
 * failures, and lines given up are reported with their job.
 *
 * @example
 * ```ts
 * const logWrites = new AttemptLogWrites({ backend, queue: 'demo', warn: (message) => console.warn(message) });
 * await logWrites.flush(runningAttempts); // the pool's timer, every second
 * await logWrites.write(run); // before the outcome
 * await logWrites.writeLate(run); // after it
 * logWrites.stop(); // ends the tries at once; then
 * logWrites.reportUnwrittenAtStop();
 * ```
 */
export class AttemptLogWrites {
  /** A flush of every running job's lines failed and was reported: the next failure in a row is not reported again. */
  private flushFailing = false;
  private stopping = false;
  /** Resolves on {@link stop}: retries after an outcome end then instead of holding the stop back. */
  private readonly stopAsked: Promise<void>;
  private askStop!: () => void;
  /** Lines attempts still held when the stop ended their retries, by job: reported in one warning. */
  private readonly unwrittenAtStop = new Map<string, number>();

  constructor(private readonly settings: AttemptLogWritesSettings) {
    this.stopAsked = new Promise<void>((resolve) => (this.askStop = resolve));
  }

  /** Writes the buffered lines of running jobs, so long jobs show progress; lines a write failed to store stay. */
  async flush(runs: Iterable<RunningAttempt>): Promise<void> {
    const buffers = [...runs].map((run) => run.logs);
    const waiting = buffers.reduce((n, logs) => n + logs.size, 0);
    try {
      await writeLogBuffers(this.settings.backend, this.settings.queue, buffers);
      this.flushFailing = false;
    } catch (err) {
      if (!this.flushFailing) this.settings.warn(`could not write ${waiting} log lines of ${buffers.length} running jobs; keeping them for the next try`, { err });
      this.flushFailing = true;
    }
  }

  /** Writes an attempt's buffered lines; a failure is reported once per run of failures, and the lines are kept. */
  async write(run: RunningAttempt): Promise<boolean> {
    try {
      await run.logs.write(this.settings.backend, run.delivery.queue);
      run.logsFailing = false;
      return true;
    } catch (err) {
      if (!run.logsFailing) this.settings.warn(`could not write ${run.logs.size} log lines of job ${run.delivery.jobId}; keeping them for the next try`, { ...about(run.delivery), err });
      run.logsFailing = true;
      return false;
    }
  }

  /**
   * Lines the store did not take before the outcome (or logged after it): a few more tries, then they
   * are reported lost. A stop ends the tries at once (see {@link reportUnwrittenAtStop}) instead of
   * waiting them out.
   */
  async writeLate(run: RunningAttempt): Promise<void> {
    const { delivery, logs } = run;
    for (let attempt = 1; logs.size > 0; attempt += 1) {
      if (attempt > 1 && (await this.write(run))) break;
      if (this.stopping) {
        this.unwrittenAtStop.set(delivery.jobId, (this.unwrittenAtStop.get(delivery.jobId) ?? 0) + logs.size);
        break;
      }
      if (attempt >= LATE_TRIES) {
        this.settings.warn(`${logs.size} log lines of job ${delivery.jobId} could not be stored and are dropped`, about(delivery));
        break;
      }
      await this.pauseUnlessStopped(200 * attempt);
    }
  }

  /** The worker stops: late lines get no more tries. */
  stop(): void {
    this.stopping = true;
    this.askStop();
  }

  /** Reports, in one warning, the lines the stop ended the tries of. */
  reportUnwrittenAtStop(): void {
    if (this.unwrittenAtStop.size === 0) return;
    const lines = [...this.unwrittenAtStop.values()].reduce((a, b) => a + b, 0);
    const jobIds = [...this.unwrittenAtStop.keys()];
    this.unwrittenAtStop.clear();
    this.settings.warn(`${lines} log lines of job ${jobIds.join(', ')} could not be stored before the worker stopped and are dropped`, { jobIds });
  }

  /** Waits `ms` on a timer that keeps no process alive, or less if the worker is asked to stop. */
  private async pauseUnlessStopped(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)).unref());
    await Promise.race([elapsed, this.stopAsked]);
    clearTimeout(timer);
  }
}
