import type { GroupInfo, GroupLimits, GroupPage, RouteLimits } from '@skq/core';
import type { GroupListQuery } from '@skq/core/backend';
import { ruleOf } from './group-claim.js';
import type { SqliteStore } from './store.js';

/** Scopes of skq_limits: a group's limits ('*' the default), a route's. */
const GROUP = 0;
const ROUTE = 1;

/**
 * Stores a group's limits, in one write transaction. Writes: its row of skq_limits (scope 0),
 * replaced, or deleted for null. Returns nothing.
 */
export function setGroupLimits(s: SqliteStore, queue: string, group: string, limits: GroupLimits | null): void {
  if (limits === null) s.groupStmt.deleteLimits.run(queue, GROUP, group);
  else s.groupStmt.setLimits.run(queue, GROUP, group, limits.concurrency ?? null, limits.rate?.max ?? null, limits.rate?.perMs ?? null);
}

/** A group's own limits. Reads: its row of skq_limits. Returns them, or null. */
export function getGroupLimits(s: SqliteStore, queue: string, group: string): GroupLimits | null {
  return limitsOf(s, queue, GROUP, group);
}

/**
 * Stores a route's limits, in one write transaction. Writes: its row of skq_limits (scope 1),
 * replaced, or deleted for null. Returns nothing.
 */
export function setRouteLimits(s: SqliteStore, queue: string, route: string, limits: RouteLimits | null): void {
  if (limits === null) s.groupStmt.deleteLimits.run(queue, ROUTE, route);
  else s.groupStmt.setLimits.run(queue, ROUTE, route, null, limits.rate.max, limits.rate.perMs);
}

/** A route's limits. Reads: its row of skq_limits. Returns them, or null. */
export function getRouteLimits(s: SqliteStore, queue: string, route: string): RouteLimits | null {
  const rate = limitsOf(s, queue, ROUTE, route)?.rate;
  return rate ? { rate } : null;
}

/**
 * A page of groups. Reads: the group keys after the cursor (skip scans of the running index and of
 * each route's grouped queued rows, the limits and the holds), then for each its queued and running
 * counts, limits and hold. Returns them in key order,
 * with the last key as the cursor when the page is full.
 */
export function listGroups(s: SqliteStore, query: GroupListQuery): GroupPage {
  const now = Date.now();
  const g = s.groupStmt;
  const after = query.cursor ?? '';
  const routes = (g.routesOf.all(query.queue) as { route: string }[]).map((r) => r.route);
  // The page's keys: groups with running rows, own limits or a hold, and each route's groups with queued rows (skip scans).
  const found = new Set((g.groupKeysAfter.all({ queue: query.queue, after, limit: query.limit, now }) as { grp: string }[]).map((r) => r.grp));
  for (const route of routes) {
    for (let key = after, n = 0; n < query.limit; n += 1) {
      const next = (g.nextGroup.get(query.queue, route, key) as { grp: string | null }).grp;
      if (next === null) break;
      found.add((key = next));
    }
  }
  const keys = [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, query.limit);
  const groups: GroupInfo[] = [];
  for (const group of keys) {
    const queued = routes.reduce((sum, route) => sum + (g.groupQueuedOn.get(query.queue, route, group) as { n: number }).n, 0);
    const running = (g.groupRunning.get(query.queue, group) as { n: number }).n;
    const held = g.holdOf.get(query.queue, group, now) as { until: number } | undefined;
    const limits = limitsOf(s, query.queue, GROUP, group);
    if (queued + running > 0 || held || limits) groups.push({ group, queued, running, limitedUntil: held?.until ?? null, limits });
  }
  return { groups, cursor: keys.length === query.limit ? keys[keys.length - 1]! : null };
}

/**
 * What no window or hold needs any more, in the recovery's write transaction. Writes: the queue's
 * starts older than its longest rate, and its holds that ended, deleted.
 */
export function dropEndedLimits(s: SqliteStore, queue: string, now: number): void {
  s.groupStmt.dropOldStarts.run({ queue, now });
  s.groupStmt.dropEndedHolds.run(queue, now);
}

function limitsOf(s: SqliteStore, queue: string, scope: number, key: string): GroupLimits | null {
  const rule = ruleOf(s.groupStmt.limitsOf.get(queue, scope, key) as never);
  if (!rule) return null;
  return { ...(rule.concurrency !== null && { concurrency: rule.concurrency }), ...(rule.rate && { rate: rule.rate }) };
}
