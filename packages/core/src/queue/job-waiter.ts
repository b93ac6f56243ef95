import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { MAX_DELAY_MS } from '../delay.js';
import type { JobEvent, JobRecord } from '../storage/contract.js';
import type { JobStorage } from '../storage/roles/job-storage.js';
import type { EventStorage } from '../storage/roles/event-storage.js';
import { TERMINAL_STATES } from '../storage/contract.js';

const ENDING_EVENTS = new Set<JobEvent['type']>(['succeeded', 'failed', 'cancelled', 'removed']);
/** A safety net for events a backend may have trimmed before a waiter read them. */
const RECHECK_MS = 1_000;
/** How long to wait, in ms: a Date or a string here would make the deadline NaN, and the wait endless. */
const TimeoutMsSchema = z.number().finite().nonnegative().max(MAX_DELAY_MS).optional();

/**
 * Waits for jobs to end over one shared event subscription per queue, so a thousand pending
 * `result()` calls cost one subscription, not a thousand.
 */
export class JobWaiter {
  private readonly waiting = new Map<string, Set<() => void>>();
  private unsubscribe: Promise<() => Promise<void>> | null = null;

  constructor(
    private readonly queue: string,
    private readonly backend: () => Promise<JobStorage & EventStorage>,
  ) {}

  /** Resolves with the job's record once its state is terminal. */
  async waitForEnd(jobId: string, timeoutMs?: number): Promise<JobRecord> {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new SkqError('ARGS_INVALID', 'jobId must be a non-empty string', { context: { queue: this.queue, field: 'jobId' } });
    const timeout = safeParseInput(TimeoutMsSchema, timeoutMs);
    if (!timeout.success) {
      throw new SkqError('ARGS_INVALID', `invalid timeoutMs: ${describeIssues(timeout.error.issues, 'timeoutMs')} (a number of ms, 0 to 100 years)`, { cause: timeout.error, context: { jobId, queue: this.queue, field: 'timeoutMs' } });
    }
    const backend = await this.backend();
    let wake!: () => void;
    let woken = new Promise<void>((resolve) => (wake = resolve));
    const listener = () => wake();
    this.add(jobId, listener);
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    try {
      await this.ensureSubscribed(backend);
      for (;;) {
        const record = await backend.getJob(this.queue, jobId);
        if (!record) throw new SkqError('JOB_NOT_FOUND', `job ${jobId} not found`, { context: { jobId, queue: this.queue } });
        if (TERMINAL_STATES.has(record.state)) return record;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new SkqError('TIMEOUT', `job ${jobId} did not end within ${timeoutMs} ms (state: ${record.state})`, {
            context: { jobId, queue: this.queue },
          });
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(left, RECHECK_MS))))]);
        clearTimeout(timer);
        woken = new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.remove(jobId, listener);
    }
  }

  /** Drops the subscription. */
  async close(): Promise<void> {
    const pending = this.unsubscribe;
    this.unsubscribe = null;
    if (pending) await (await pending)();
  }

  private add(jobId: string, listener: () => void): void {
    let set = this.waiting.get(jobId);
    if (!set) this.waiting.set(jobId, (set = new Set()));
    set.add(listener);
  }

  private remove(jobId: string, listener: () => void): void {
    const set = this.waiting.get(jobId);
    set?.delete(listener);
    if (set && set.size === 0) this.waiting.delete(jobId);
  }

  private ensureSubscribed(backend: JobStorage & EventStorage): Promise<unknown> {
    this.unsubscribe ??= backend.subscribe(this.queue, (event) => {
      if (!ENDING_EVENTS.has(event.type) || event.jobId === null) return;
      for (const listener of this.waiting.get(event.jobId) ?? []) listener();
    }, [...ENDING_EVENTS]);
    return this.unsubscribe;
  }
}
