import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseConfig } from '../config.js';
import { SkqError, serializeError } from '../errors.js';
import { invocationOf, parseJobName, type Invocable, type Invocation } from '../job/invocation.js';
import { NameSchema } from '../job/names.js';
import type { QueueType, ScheduleRule } from '../storage/contract.js';
import type { ScheduleStorage } from '../storage/roles/schedule-storage.js';
import { AimdInterval, AimdOptionsSchema, RtoInterval, RtoOptionsSchema, SlowStartInterval, SlowStartOptionsSchema } from './adaptive-interval.js';
import { DurationSchema, durationToMs } from '../delay.js';
import { firstTick, nextCron } from './schedule-rule.js';

/**
 * What schedules are saved on: a queue.
 *
 * @example
 * ```ts
 * const target: ScheduleTarget = queue; // a SkunkQueue is one
 * await new TimeScheduler(target, { every: { minutes: 5 } }).add(cleanup.with()).flush();
 * ```
 */
export interface ScheduleTarget {
  readonly name: string;
  readonly type: QueueType;
  backend(): Promise<ScheduleStorage>;
}

/**
 * Saves `job` to fire by `rule` on the queue. The id is `name` when given, else derived from the rule
 * and the job, so that every process defining the same schedule at start-up saves the same one.
 *
 * @example
 * ```ts
 * await saveSchedule(queue, cleanup.with(), { kind: 'every', everyMs: 60_000 }, 'cleanup');
 * ```
 */
export async function saveSchedule(queue: ScheduleTarget, job: Invocable, rule: ScheduleRule, name?: string): Promise<string> {
  const inv: Invocation = invocationOf(job, 'schedule()');
  const scheduled = { name: inv.name, type: queue.type, args: inv.args, routes: inv.defaults.routes, priority: inv.defaults.priority, options: inv.defaults.runOptions };
  const id = name ?? `s-${createHash('sha1').update(JSON.stringify({ rule, scheduled })).digest('hex').slice(0, 16)}`;
  // Connect first: the first tick counts from when the schedule is saved, not from before a slow connect.
  const backend = await queue.backend();
  const { nextRunAt, state } = firstTick(rule, Date.now());
  await backend.saveSchedule(queue.name, { id, rule, job: scheduled, nextRunAt, state });
  return id;
}

/**
 * Collects jobs with {@link ConjoiningScheduler.add}; each {@link ConjoiningScheduler.flush} conjoins
 * them into one compound job and saves it as one schedule; {@link ConjoiningScheduler.close} flushes
 * once more, and so does leaving the block of an `await using` declaration.
 *
 * @example
 * ```ts
 * await using schedule = new TimeScheduler(queue, { every: { hours: 3 }, name: 'housekeeping' });
 * schedule.add(new Foo()).add(new Bar()); // saved as one compound job when the block ends
 * ```
 */
export abstract class ConjoiningScheduler {
  private pending: Invocation | null = null;
  private flushes = 0;

  protected constructor(
    private readonly queue: ScheduleTarget,
    private readonly rule: ScheduleRule,
    private readonly name: string | undefined,
  ) {}

  /** Adds a job to the compound job of the next flush; returns the scheduler, so calls chain. */
  add(job: Invocable): this {
    this.pending = this.pending ? this.pending.and(job) : invocationOf(job, 'add()');
    return this;
  }

  /** Saves the jobs added since the last flush as one schedule; resolves to its id (null if none were added). */
  async flush(): Promise<string | null> {
    if (!this.pending) return null;
    const job = this.pending;
    this.pending = null;
    this.flushes += 1;
    const name = this.name && (this.flushes === 1 ? this.name : `${this.name}-${this.flushes}`);
    return saveSchedule(this.queue, job, this.rule, name);
  }

  /** Flushes once more. */
  async close(): Promise<void> {
    await this.flush();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

const Named = { name: NameSchema.optional() };

/**
 * Options of {@link TimeScheduler}: `every` (a duration, `{ wait }` in seconds or units) or `cron` (with an optional IANA `timezone`).
 *
 * @example
 * ```ts
 * TimeSchedulerOptionsSchema.parse({ every: { hours: 3 }, name: 'housekeeping' });
 * TimeSchedulerOptionsSchema.safeParse({ every: { hours: 1 }, timezone: 'UTC' }).success; // false: timezone goes with cron
 * ```
 */
export const TimeSchedulerOptionsSchema = z
  .object({ ...Named, every: DurationSchema.optional(), cron: z.string().min(1).optional(), timezone: z.string().min(1).optional() })
  .strict()
  .refine((o) => (o.every === undefined) !== (o.cron === undefined), 'give exactly one of every and cron')
  .refine((o) => o.timezone === undefined || o.cron !== undefined, 'timezone goes with cron');

/**
 * `{ every }` or `{ cron, timezone? }`, with an optional `name`, for `new TimeScheduler(queue, options)`.
 *
 * @example
 * ```ts
 * const nightly: TimeSchedulerOptions = { cron: '0 3 * * *', timezone: 'Europe/Paris', name: 'nightly' };
 * await new TimeScheduler(queue, nightly).add(report.with()).flush();
 * ```
 */
export type TimeSchedulerOptions = z.input<typeof TimeSchedulerOptionsSchema>;

/**
 * A clock-driven schedule: every fixed interval, or on a cron expression in a time zone.
 *
 * @example
 * ```ts
 * const schedule = new TimeScheduler(queue, { cron: '0 3 * * *', timezone: 'Europe/Paris', name: 'nightly' });
 * schedule.add(new Foo()).add(new Bar());
 * await schedule.flush(); // one compound job, Foo then Bar, every night at 03:00 Paris time
 * ```
 */
export class TimeScheduler extends ConjoiningScheduler {
  constructor(queue: ScheduleTarget, options: TimeSchedulerOptions) {
    const o = parseConfig(TimeSchedulerOptionsSchema, options, 'TimeScheduler options');
    let rule: ScheduleRule;
    if (o.cron !== undefined) {
      nextCron(o.cron, o.timezone ?? null, Date.now()); // Refuse a bad expression now, not at the first tick.
      rule = { kind: 'cron', expression: o.cron, timezone: o.timezone ?? null };
    } else {
      const everyMs = durationToMs(o.every!);
      if (everyMs < 1) throw new SkqError('CONFIG_INVALID', 'every must be at least 1 ms', { context: { field: 'every' } });
      rule = { kind: 'every', everyMs };
    }
    super(queue, rule, o.name);
  }
}

function adaptiveScheduler<S extends z.ZodType>(policy: 'aimd' | 'rto' | 'slow-start', schema: S, check: (options: z.input<S>) => unknown) {
  return (queue: ScheduleTarget, options: z.input<S> & { name?: string }) => {
    if (typeof options !== 'object' || options === null) {
      throw new SkqError('CONFIG_INVALID', `invalid ${policy} scheduler options: expected an object such as { minMs, maxMs, stepMs }`, { context: { field: 'options' } });
    }
    let name: unknown;
    let policyOptions: Record<string, number>;
    try {
      ({ name, ...policyOptions } = options as { name?: unknown } & Record<string, number>);
    } catch (cause) {
      throw new SkqError('CONFIG_INVALID', `invalid ${policy} scheduler options: they could not be read (${serializeError(cause).message})`, { cause, context: { field: 'options' } });
    }
    check(policyOptions as z.input<S>);
    const id = name === undefined ? undefined : parseJobName(name, 'schedule name');
    return { queue, rule: { kind: 'adaptive', policy, options: policyOptions } as ScheduleRule, name: id };
  };
}

const aimd = adaptiveScheduler('aimd', AimdOptionsSchema, (o) => new AimdInterval(o));
const rto = adaptiveScheduler('rto', RtoOptionsSchema, (o) => new RtoInterval(o));
const slowStart = adaptiveScheduler('slow-start', SlowStartOptionsSchema, (o) => new SlowStartInterval(o));

/**
 * Runs the compound job again an AIMD interval after each run ends (see {@link AimdInterval}).
 *
 * @example
 * ```ts
 * const s = new AIMDScheduler(queue, { name: 'poll', minMs: 1_000, maxMs: 60_000, stepMs: 1_000 });
 * await s.add(pollFeed.with()).flush();
 * ```
 */
export class AIMDScheduler extends ConjoiningScheduler {
  constructor(queue: ScheduleTarget, options: z.input<typeof AimdOptionsSchema> & { name?: string }) {
    const { rule, name } = aimd(queue, options);
    super(queue, rule, name);
  }
}

/**
 * Runs the compound job again an RTO interval (SRTT + 4·RTTVAR of run durations) after each run
 * ends (see {@link RtoInterval}).
 *
 * @example
 * ```ts
 * await new RTOScheduler(queue, { name: 'sync', minMs: 500, maxMs: 300_000 }).add(sync.with()).flush();
 * ```
 */
export class RTOScheduler extends ConjoiningScheduler {
  constructor(queue: ScheduleTarget, options: z.input<typeof RtoOptionsSchema> & { name?: string }) {
    const { rule, name } = rto(queue, options);
    super(queue, rule, name);
  }
}

/**
 * Runs the compound job again a slow-start interval after each run ends (see {@link SlowStartInterval}).
 *
 * @example
 * ```ts
 * await new SlowStartScheduler(queue, { name: 'crawl', minMs: 1_000, maxMs: 64_000, stepMs: 1_000 }).add(crawl.with()).flush();
 * ```
 */
export class SlowStartScheduler extends ConjoiningScheduler {
  constructor(queue: ScheduleTarget, options: z.input<typeof SlowStartOptionsSchema> & { name?: string }) {
    const { rule, name } = slowStart(queue, options);
    super(queue, rule, name);
  }
}

/**
 * Options of `queue.schedule`: fixed rate (`every`), cron, or recurring after each run (`after`: the
 * run's completion plus a delay).
 *
 * @example
 * ```ts
 * RecurrenceSchema.parse({ after: { wait: 30 } });
 * RecurrenceSchema.safeParse({ every: { minutes: 5 }, cron: '0 7 * * 1-5' }).success; // false: one kind at a time
 * ```
 */
export const RecurrenceSchema = z.union([
  z.object({ every: DurationSchema }).strict(),
  z.object({ cron: z.string().min(1), timezone: z.string().min(1).optional() }).strict(),
  z.object({ after: DurationSchema }).strict(),
]);

/**
 * `{ every }`, `{ cron, timezone? }` or `{ after }` for `queue.schedule`.
 *
 * @example
 * ```ts
 * const weekdays: Recurrence = { cron: '0 7 * * 1-5', timezone: 'America/New_York' };
 * await queue.schedule('report', report.with('daily'), weekdays);
 * ```
 */
export type Recurrence = z.input<typeof RecurrenceSchema>;

/**
 * The stored rule of a recurrence.
 *
 * @example
 * ```ts
 * ruleOf({ every: { minutes: 5 } }); // { kind: 'every', everyMs: 300_000 }
 * ruleOf({ after: { wait: 30 } }); // { kind: 'after', delayMs: 30_000 }
 * ```
 */
export function ruleOf(recurrence: Recurrence): ScheduleRule {
  const r = parseConfig(RecurrenceSchema, recurrence, 'recurrence');
  if ('cron' in r) {
    nextCron(r.cron, r.timezone ?? null, Date.now());
    return { kind: 'cron', expression: r.cron, timezone: r.timezone ?? null };
  }
  if ('every' in r) {
    const everyMs = durationToMs(r.every);
    if (everyMs < 1) throw new SkqError('CONFIG_INVALID', 'every must be at least 1 ms', { context: { field: 'every' } });
    return { kind: 'every', everyMs };
  }
  return { kind: 'after', delayMs: durationToMs(r.after) };
}
