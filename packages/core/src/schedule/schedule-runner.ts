import { z } from 'zod';
import { parseConfig } from '../config.js';
import { TERMINAL_STATES, type ScheduleRecord } from '../storage/contract.js';
import type { JobStorage } from '../storage/roles/job-storage.js';
import type { ScheduleStorage } from '../storage/roles/schedule-storage.js';
import type { IntervalState } from './adaptive-interval.js';
import { tickAfter, tickAfterRun } from './schedule-rule.js';
import { timerMs } from '../delay.js';

/**
 * Options of {@link ScheduleRunner}.
 *
 * @example
 * ```ts
 * ScheduleRunnerOptionsSchema.parse({}); // { pollIntervalMs: 1000 }
 * ScheduleRunnerOptionsSchema.safeParse({ pollIntervalMs: 0 }).success; // false: at least 1 ms
 * ```
 */
export const ScheduleRunnerOptionsSchema = z
  .object({
    /** The longest the runner sleeps between looks at the schedules, in ms. */
    pollIntervalMs: timerMs().default(1_000),
    /** The clock, for tests. */
    clock: z.custom<() => number>((v) => typeof v === 'function', 'must be a function').optional(),
    /** Called with what goes wrong in the background, and the queue and schedule it was at (the runner carries on). */
    onError: z.custom<(err: unknown, where: { queue?: string; scheduleId?: string }) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  })
  .strict();

/**
 * `{ pollIntervalMs?, clock?, onError? }` for `new ScheduleRunner(backend, queues, options)`.
 *
 * @example
 * ```ts
 * const options: ScheduleRunnerOptions = { pollIntervalMs: 5_000, onError: (err, where) => console.error(where, err) };
 * new ScheduleRunner(await queue.backend(), [queue.name], options).start();
 * ```
 */
export type ScheduleRunnerOptions = z.input<typeof ScheduleRunnerOptionsSchema>;

/**
 * The id of the job a schedule fires for the tick at `tick`: the same in every process, and
 * distinct per queue, since some stores keep one id space for all their queues.
 *
 * @example
 * ```ts
 * scheduledJobId('reports', 'nightly', 1_700_000_000_000); // 'sched:reports:nightly:1700000000000'
 * ```
 */
export function scheduledJobId(queue: string, scheduleId: string, tick: number): string {
  return `sched:${queue}:${scheduleId}:${tick}`;
}

/**
 * Fires the ticks of a queue's stored schedules. Any number of runners, in any number of processes,
 * may run at once: each tick is fired by whichever wins the backend's compare-and-set on the
 * schedule's version, and the fired job's id is derived from the tick, so a tick cannot fire twice
 * even when the runners' clocks disagree.
 *
 * @example
 * ```ts
 * const runner = new ScheduleRunner(await queue.backend(), [queue.name]);
 * runner.start();
 * // …
 * await runner.stop();
 * ```
 */
export class ScheduleRunner {
  private readonly options: z.output<typeof ScheduleRunnerOptionsSchema>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  /** The queue and schedule the pass in flight is at, for `onError`. */
  private at: { queue?: string; scheduleId?: string } = {};

  constructor(
    private readonly backend: JobStorage & ScheduleStorage,
    private readonly queues: string[],
    options: ScheduleRunnerOptions = {},
  ) {
    this.options = parseConfig(ScheduleRunnerOptionsSchema, options, 'schedule runner options');
  }

  /** Looks at the schedules now: fires due ticks and sets the next tick of schedules whose run ended. Returns the ticks this call fired and when to look next. */
  async runOnce(): Promise<{ fired: number; wakeAt: number }> {
    const now = this.now();
    let wakeAt = now + this.options.pollIntervalMs;
    let fired = 0;
    this.at = {};
    for (const queue of this.queues) {
      this.at = { queue };
      for (const schedule of await this.backend.listSchedules(queue)) {
        if (schedule.paused) continue;
        this.at = { queue, scheduleId: schedule.id };
        const result = await this.handle(queue, schedule, now);
        fired += result.fired ? 1 : 0;
        if (result.next !== null) wakeAt = Math.min(wakeAt, result.next);
      }
    }
    return { fired, wakeAt };
  }

  /** Runs in the background until {@link ScheduleRunner.stop}. */
  start(): void {
    this.stopped = false;
    this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private loop(): void {
    if (this.stopped) return;
    this.running = this.runOnce().then(
      ({ wakeAt }) => this.sleep(wakeAt - this.now()),
      (err: unknown) => {
        this.options.onError?.(err, this.at);
        this.sleep(this.options.pollIntervalMs);
      },
    );
  }

  private sleep(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.loop(), Math.max(1, Math.min(ms, this.options.pollIntervalMs)));
  }

  private now(): number {
    return this.options.clock ? this.options.clock() : Date.now();
  }

  private async handle(queue: string, schedule: ScheduleRecord, now: number): Promise<{ fired: boolean; next: number | null }> {
    if (schedule.waitingJobId) {
      const job = await this.backend.getJob(queue, schedule.waitingJobId);
      if (job && !TERMINAL_STATES.has(job.state)) return { fired: false, next: null };
      // A job removed by retention has ended too; its timing is then unknown.
      const finishedAt = job?.finishedAt ?? now;
      const durationMs = job?.startedAt != null ? finishedAt - job.startedAt : 0;
      const next = tickAfterRun(schedule.rule, schedule.state as IntervalState | null, { finishedAt, durationMs, ok: job ? job.state === 'succeeded' : true });
      await this.backend.advanceSchedule(queue, schedule.id, schedule.version, next);
      return { fired: false, next: next.nextRunAt };
    }
    if (schedule.nextRunAt === null) return { fired: false, next: null };
    if (schedule.nextRunAt > now) return { fired: false, next: schedule.nextRunAt };
    const tick = schedule.nextRunAt;
    const jobId = scheduledJobId(schedule.queue, schedule.id, tick);
    const nextRunAt = tickAfter(schedule.rule, tick, now);
    const { job } = schedule;
    const fired = await this.backend.fireSchedule(queue, schedule.id, schedule.version, {
      job: { id: jobId, queue, name: job.name, args: job.args, routes: job.routes, type: job.type, priority: job.priority, runAt: now, createdAt: now, options: job.options, dedupeKey: null },
      firedAt: now,
      nextRunAt,
      waitingJobId: nextRunAt === null ? jobId : null,
    });
    return { fired, next: nextRunAt };
  }
}
