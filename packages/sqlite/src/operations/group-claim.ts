import type { RateLimit } from '@skq/core';
import type { ClaimRequest } from '@skq/core/backend';
import type { ClaimedRow } from '../rows.js';
import type { SqliteStore } from './store.js';

/** What a claim may take of one group now, by its limits (own, else the default `'*'`). */
interface GroupRule {
  concurrency: number | null;
  rate: RateLimit | null;
}

/** What {@link claimByTurns} took and what held the rest back. */
export interface TurnsOutcome {
  taken: number;
  /** The earliest instant something held back may be claimable: a hold or a rate window ending, a run time. */
  nextRunAt: number | null;
  /** Due work was held back by a limit: an ending delivery may free a place. */
  limited: boolean;
}

/** A limits row of skq_limits. */
interface LimitsRow {
  concurrency: number | null;
  rate_max: number | null;
  rate_per_ms: number | null;
}

/**
 * The claim of a route where grouped jobs wait, inside the claim's write transaction: fair turns.
 * The route's groups with queued rows take turns in key order, the jobs without a group before the
 * first group, starting after the one the last claim served (`skq_group_cursors`), round and round.
 * - Reads: the cursor; the next group after each (a skip scan of the grouped queued index); for each
 *   group its limits (own, else `'*'`, looked up only when some group has its own), its hold (only
 *   when some group is held), its next due row (priority, run time, enqueue order) with, when it has
 *   a concurrency limit, its running rows (the running index, in the same statement), and, with a
 *   rate, its starts in the window.
 * - Writes: one row per turn to running (through `take`, which sets it running by its key), the
 *   group's start logged when it has a rate; the cursor, at the last group served.
 * - Returns: how many it took, and what held the rest back. Turns go on until `limit` are taken or a
 *   whole round took none: each group gets one delivery per round.
 */
export function claimByTurns(s: SqliteStore, request: ClaimRequest, limit: number, now: number, take: (row: ClaimedRow) => void): TurnsOutcome {
  const g = s.groupStmt;
  const { queue, route } = request;
  const ungrouped = g.anyUngroupedQueued.get(queue, route) !== undefined;
  const { workerId } = request;
  const defaults = ruleOf(g.limitsOf.get(queue, 0, '*') as LimitsRow | undefined);
  // Most queues set no group's own limits and hold no group: then no group is looked up for them.
  const ownLimits = g.anyOwnGroupLimits.get(queue) !== undefined;
  const holds = g.anyHold.get(queue, now) !== undefined;
  const rules = new Map<string, GroupRule | null>();
  const outcome: TurnsOutcome = { taken: 0, nextRunAt: null, limited: false };
  const later = (at: number | null) => {
    if (at !== null && at > now && (outcome.nextRunAt === null || at < outcome.nextRunAt)) outcome.nextRunAt = at;
  };
  /** Held back by a limit; `until`, when known, is when it may let one through. */
  const blocked = (until: number | null): false => {
    outcome.limited = true;
    later(until);
    return false;
  };
  /** Takes the next due row of group `grp` if its limits allow; true when it took one. */
  const takeFromGroup = (grp: string): boolean => {
    let rule = ownLimits ? rules.get(grp) : defaults;
    if (rule === undefined) rules.set(grp, (rule = ruleOf(g.limitsOf.get(queue, 0, grp) as LimitsRow | undefined) ?? defaults));
    const held = holds ? (g.holdOf.get(queue, grp, now) as { until: number } | undefined) : undefined;
    if (held) return blocked(held.until);
    const concurrency = rule?.concurrency ?? null;
    const row = (
      concurrency === null ? g.dueInGroup.get(queue, route, grp, now, workerId) : g.dueInGroupCounted.get(queue, grp, queue, route, grp, now, workerId)
    ) as (ClaimedRow & { 18?: number }) | undefined;
    if (!row) {
      later((g.groupNextRunAt.get(queue, route, grp, now, workerId) as { run_at: number | null }).run_at);
      return false;
    }
    if (concurrency !== null && row[18]! >= concurrency) return blocked(null);
    if (rule?.rate) {
      const opensAt = windowOpensAt(s, 0, queue, grp, rule.rate, now);
      if (opensAt !== null) return blocked(opensAt);
    }
    take(row);
    if (rule?.rate) g.addStart.run(queue, 0, grp, now);
    return true;
  };
  const takeUngrouped = (): boolean => {
    if (!ungrouped) return false;
    const row = g.dueUngrouped.get(queue, route, now, workerId) as ClaimedRow | undefined;
    if (!row) return false;
    take(row);
    return true;
  };
  /** The turn after `key` ('' stands for the jobs without a group, before the first group). */
  const after = (key: string): string => (g.nextGroup.get(queue, route, key) as { grp: string | null }).grp ?? '';

  const cursor = (g.cursorOf.get(queue, route) as { grp: string } | undefined)?.grp;
  let key = cursor === undefined ? '' : after(cursor);
  // Where the current run of turns that took nothing began: reaching it again ends the claim.
  let idleSince: string | null = null;
  let last: string | null = null;
  for (;;) {
    const took = key === '' ? takeUngrouped() : takeFromGroup(key);
    if (took) {
      last = key;
      idleSince = null;
      outcome.taken += 1;
      if (outcome.taken >= limit) break;
    } else if (idleSince === null) idleSince = key;
    const next = after(key);
    if (next === idleSince) break;
    key = next;
  }
  if (last !== null) g.setCursor.run(queue, route, last);
  return outcome;
}

/**
 * When a rate window lets one more start through: null when it does now, else the instant its
 * oldest start leaves the window. Drops the key's starts that left it.
 */
export function windowOpensAt(s: SqliteStore, scope: 0 | 1, queue: string, key: string, rate: RateLimit, now: number): number | null {
  const since = now - rate.perMs;
  s.groupStmt.dropStartsOf.run(queue, scope, key, since);
  const window = s.groupStmt.startsSince.get(queue, scope, key, since) as { n: number; oldest: number | null };
  return window.n < rate.max ? null : window.oldest! + rate.perMs;
}

/** The rule of a limits row; null when there is none. */
export function ruleOf(row: LimitsRow | undefined): GroupRule | null {
  if (!row) return null;
  return { concurrency: row.concurrency, rate: row.rate_max === null || row.rate_per_ms === null ? null : { max: row.rate_max, perMs: row.rate_per_ms } };
}
