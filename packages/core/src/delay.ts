import { z } from 'zod';
import { safeParseInput } from './config.js';
import { SkqError, describeIssues } from './errors.js';

/**
 * The longest delay a Node timer keeps: `setTimeout` turns 2³¹ ms (about 24.8 days) or more into
 * 1 ms. Every option that sets a timer (timeouts, leases, poll intervals, TTLs) is bounded by it.
 *
 * @example
 * ```ts
 * const timer = setTimeout(wake, Math.min(untilNextRun, MAX_TIMER_MS)); // a longer delay would fire after 1 ms
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The longest delay from now that a job's run time, a retry or a schedule interval may take:
 * 100 years. Beyond it a date is no longer a date a store can hold or a person meant.
 *
 * @example
 * ```ts
 * await reminder.fireAt(Math.min(delayMs, MAX_DELAY_MS), userId); // a longer delay is refused
 * ```
 */
export const MAX_DELAY_MS = 100 * 365 * 86_400_000;

/**
 * A duration in ms that sets a timer: a positive integer up to {@link MAX_TIMER_MS}.
 *
 * @example
 * ```ts
 * const Options = z.object({ leaseMs: timerMs(200).default(30_000) });
 * ```
 */
export function timerMs(min = 1) {
  return z
    .number()
    .int()
    .min(min)
    .max(MAX_TIMER_MS, { message: `must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest Node timer)` });
}

/** Whether `value` is an object literal (or has no prototype), not a Date, Map or other class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const DurationFields = z
  .object({
    /** Seconds; adds to the other units. */
    wait: z.number().finite().nonnegative().optional(),
    days: z.number().finite().nonnegative().optional(),
    hours: z.number().finite().nonnegative().optional(),
    minutes: z.number().finite().nonnegative().optional(),
    seconds: z.number().finite().nonnegative().optional(),
    millis: z.number().finite().nonnegative().optional(),
  })
  .strict();

/**
 * A span of time in combinable, possibly fractional units. Only an object literal is one: zod alone
 * would read a `Date`, a `Map` or any class instance as an empty duration, "0 ms".
 *
 * @example
 * ```ts
 * const Options = z.object({ keepFor: DurationSchema.default({ days: 7 }) });
 * Options.parse({ keepFor: { hours: 12 } }).keepFor; // { hours: 12 }
 * ```
 */
export const DurationSchema = z
  .custom<z.input<typeof DurationFields>>(isPlainObject, { message: 'expected { wait, days, hours, minutes, seconds, millis }, not a Date or another class instance' })
  .pipe(DurationFields);

/**
 * `{ wait, days, hours, minutes, seconds, millis }` (`wait` is seconds): units combine and accept floats.
 *
 * @example
 * ```ts
 * const retention: Duration = { days: 1, hours: 12 };
 * durationToMs(retention); // 129_600_000
 * ```
 */
export type Duration = z.input<typeof DurationSchema>;

/**
 * When a job should run: a `Date`, a delay in milliseconds from now, or a {@link Duration} from now.
 *
 * @example
 * ```ts
 * const Reminder = z.object({ text: z.string(), at: WhenSchema });
 * const runAt = resolveWhen(Reminder.parse(body).at); // epoch ms
 * ```
 */
export const WhenSchema = z.union([z.date(), z.number().finite().nonnegative().max(MAX_DELAY_MS), DurationSchema]);

/**
 * A `Date`, a number of ms from now, or `{ days, hours, minutes, seconds, millis }` from now.
 *
 * @example
 * ```ts
 * const at: When = { minutes: 10 }; // or 600_000, or new Date('2030-01-01T09:00:00Z')
 * await reminder.fireAt(at, userId);
 * ```
 */
export type When = z.input<typeof WhenSchema>;

const MS = { wait: 1_000, days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1_000, millis: 1 } as const;

/**
 * Converts a {@link Duration} to milliseconds.
 *
 * @example
 * ```ts
 * durationToMs({ minutes: 1.5, millis: 250 }); // 90_250
 * ```
 */
export function durationToMs(duration: Duration): number {
  const parsed = safeParseInput(DurationSchema, duration);
  if (!parsed.success) {
    throw new SkqError('CONFIG_INVALID', `invalid duration: ${describeIssues(parsed.error.issues)}`, {
      cause: parsed.error,
    });
  }
  let total = 0;
  for (const [unit, factor] of Object.entries(MS)) {
    total += (parsed.data[unit as keyof typeof MS] ?? 0) * factor;
  }
  if (total > MAX_DELAY_MS) {
    throw new SkqError('CONFIG_INVALID', `invalid duration: ${Math.round(total)} ms is longer than ${MAX_DELAY_MS} ms (100 years)`, { context: { field: 'duration' } });
  }
  return Math.round(total);
}

/**
 * Resolves a {@link When} to an absolute epoch-millisecond timestamp. A Date must lie within 100
 * years of now ({@link MAX_DELAY_MS}); anything that is neither a Date, a number of ms nor a
 * {@link Duration} is `ARGS_INVALID` naming `field`.
 *
 * @example
 * ```ts
 * resolveWhen({ seconds: 30 });          // now + 30 s
 * resolveWhen(new Date('2030-01-01'));   // that instant
 * ```
 */
export function resolveWhen(when: When, now: number = Date.now(), field = 'when'): number {
  if (when instanceof Date) {
    const at = when.getTime();
    if (Number.isNaN(at)) throw new SkqError('ARGS_INVALID', `invalid ${field}: the Date is invalid`, { context: { field } });
    // The bound durations have, both ways: a year-275760 run time is no more a date a person meant than 1e308 days.
    if (Math.abs(at - now) > MAX_DELAY_MS) {
      throw new SkqError('ARGS_INVALID', `invalid ${field}: ${when.toISOString()} is more than 100 years from now`, { context: { field } });
    }
    return at;
  }
  const parsed = safeParseInput(WhenSchema, when);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid ${field}: expected a Date, a number of ms or { days, hours, minutes, seconds, millis }`, {
      cause: parsed.error,
      context: { field },
    });
  }
  const value = parsed.data;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return now + Math.round(value);
  try {
    return now + durationToMs(value);
  } catch (cause) {
    throw new SkqError('ARGS_INVALID', `invalid ${field}: ${(cause as SkqError).message}`, { cause, context: { field } });
  }
}
