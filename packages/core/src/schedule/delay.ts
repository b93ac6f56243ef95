import { z } from 'zod';
import { SkqError, describeIssues } from '../errors.js';

/** A span of time in combinable, possibly fractional units. */
export const DurationSchema = z
  .object({
    /** Seconds, as PyTaSched's `wait`; adds to the other units. */
    wait: z.number().finite().nonnegative().optional(),
    days: z.number().finite().nonnegative().optional(),
    hours: z.number().finite().nonnegative().optional(),
    minutes: z.number().finite().nonnegative().optional(),
    seconds: z.number().finite().nonnegative().optional(),
    millis: z.number().finite().nonnegative().optional(),
  })
  .strict();

/** `{ wait, days, hours, minutes, seconds, millis }` (`wait` is seconds): units combine and accept floats. */
export type Duration = z.input<typeof DurationSchema>;

/**
 * When a job should run: a `Date`, a delay in milliseconds from now, or a {@link Duration} from now.
 */
export const WhenSchema = z.union([z.date(), z.number().finite().nonnegative(), DurationSchema]);

/** A `Date`, a number of ms from now, or `{ days, hours, minutes, seconds, millis }` from now. */
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
  const parsed = DurationSchema.safeParse(duration);
  if (!parsed.success) {
    throw new SkqError('CONFIG_INVALID', `invalid duration: ${describeIssues(parsed.error.issues)}`, {
      cause: parsed.error,
    });
  }
  let total = 0;
  for (const [unit, factor] of Object.entries(MS)) {
    total += (parsed.data[unit as keyof typeof MS] ?? 0) * factor;
  }
  return Math.round(total);
}

/**
 * Resolves a {@link When} to an absolute epoch-millisecond timestamp.
 *
 * @example
 * ```ts
 * resolveWhen({ seconds: 30 });          // now + 30 s
 * resolveWhen(new Date('2030-01-01'));   // that instant
 * ```
 */
export function resolveWhen(when: When, now: number = Date.now(), field = 'when'): number {
  // Checked first: an invalid Date would otherwise parse as an empty duration.
  if (when instanceof Date) {
    const at = when.getTime();
    if (Number.isNaN(at)) throw new SkqError('ARGS_INVALID', `invalid ${field}: the Date is invalid`, { context: { field } });
    return at;
  }
  const parsed = WhenSchema.safeParse(when);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid ${field}: expected a Date, a number of ms or { days, hours, minutes, seconds, millis }`, {
      cause: parsed.error,
      context: { field },
    });
  }
  const value = parsed.data;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return now + Math.round(value);
  return now + durationToMs(value);
}
