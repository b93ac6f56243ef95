import { CronExpressionParser } from 'cron-parser';
import { SkqError } from '../errors.js';
import type { ScheduleRule } from '../storage/contract.js';
import { AimdInterval, RtoInterval, SlowStartInterval, type IntervalPolicy, type IntervalState, type RunOutcome } from './adaptive-interval.js';

/**
 * The next cron instant strictly after `after`, in the rule's time zone (UTC when none).
 *
 * @example
 * ```ts
 * nextCron('0 3 * * *', 'Europe/Paris', Date.now()); // the next 03:00 in Paris
 * ```
 */
export function nextCron(expression: string, timezone: string | null, after: number): number {
  try {
    return CronExpressionParser.parse(expression, { currentDate: new Date(after), tz: timezone ?? 'UTC' }).next().getTime();
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid cron expression "${expression}"${timezone ? ` (time zone ${timezone})` : ''}: ${(cause as Error).message}`, {
      cause,
      context: { field: 'cron' },
    });
  }
}

/**
 * The policy object of an adaptive rule.
 *
 * @example
 * ```ts
 * const policy = policyOf({ kind: 'adaptive', policy: 'aimd', options: { minMs: 1_000, maxMs: 60_000, stepMs: 1_000 } });
 * policy.initial(); // { intervalMs: 60_000 }
 * ```
 */
export function policyOf(rule: Extract<ScheduleRule, { kind: 'adaptive' }>): IntervalPolicy {
  const options = rule.options as never;
  if (rule.policy === 'aimd') return new AimdInterval(options);
  if (rule.policy === 'rto') return new RtoInterval(options);
  return new SlowStartInterval(options);
}

/**
 * The first tick of a new schedule, and an adaptive rule's starting state.
 *
 * @example
 * ```ts
 * firstTick({ kind: 'every', everyMs: 60_000 }, now); // { nextRunAt: now + 60_000, state: null }
 * firstTick({ kind: 'after', delayMs: 30_000 }, now); // { nextRunAt: now, state: null }: the first run is at once
 * ```
 */
export function firstTick(rule: ScheduleRule, now: number): { nextRunAt: number; state: IntervalState | null } {
  switch (rule.kind) {
    case 'every':
      return { nextRunAt: now + rule.everyMs, state: null };
    case 'cron':
      return { nextRunAt: nextCron(rule.expression, rule.timezone, now), state: null };
    case 'after':
      return { nextRunAt: now, state: null };
    case 'adaptive':
      return { nextRunAt: now, state: policyOf(rule).initial() };
  }
}

/**
 * The tick after `tick` for fixed-rate rules (`every`, `cron`), or null for rules that wait for the
 * run to end. Ticks missed while no scheduler ran are skipped, not fired in a burst: the next tick
 * is the first one after `now`, on the original grid.
 *
 * @example
 * ```ts
 * tickAfter({ kind: 'every', everyMs: 60_000 }, tick, tick + 150_000); // tick + 180_000: +60 s and +120 s are skipped
 * tickAfter({ kind: 'after', delayMs: 30_000 }, tick, now); // null: it waits for the run to end
 * ```
 */
export function tickAfter(rule: ScheduleRule, tick: number, now: number): number | null {
  if (rule.kind === 'every') {
    const periods = Math.max(1, Math.floor((now - tick) / rule.everyMs) + 1);
    return tick + periods * rule.everyMs;
  }
  if (rule.kind === 'cron') return nextCron(rule.expression, rule.timezone, Math.max(tick, now));
  return null;
}

/**
 * For rules that wait for the run: the next tick from when and how the last run ended.
 *
 * @example
 * ```ts
 * tickAfterRun({ kind: 'after', delayMs: 30_000 }, null, { finishedAt, durationMs: 1_200, ok: true });
 * // { nextRunAt: finishedAt + 30_000, state: null }
 * ```
 */
export function tickAfterRun(rule: ScheduleRule, state: IntervalState | null, run: RunOutcome & { finishedAt: number }): { nextRunAt: number; state: IntervalState | null } {
  if (rule.kind === 'after') return { nextRunAt: run.finishedAt + rule.delayMs, state: null };
  if (rule.kind === 'adaptive') {
    const policy = policyOf(rule);
    const next = policy.next(state ?? policy.initial(), run);
    return { nextRunAt: run.finishedAt + next.intervalMs, state: next };
  }
  throw new SkqError('INVALID_STATE', `a ${rule.kind} schedule does not wait for its runs`);
}
