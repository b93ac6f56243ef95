import type { GroupInfo, GroupLimits, GroupPage, RouteLimits } from '@skq/core';
import type { GroupListQuery } from '@skq/core/backend';
import { run, type PgTx } from '../store.js';

/** Scopes of the limits table: a group's limits ('*' the default), a route's. */
const GROUP = 0;
const ROUTE = 1;

/** A limits row. */
interface LimitsRow {
  concurrency: number | null;
  rate_max: number | null;
  rate_per_ms: string | number | null;
}

/** Stores a group's limits, one statement. Writes: its row of the limits table (scope 0), replaced, or deleted for null. */
export async function setGroupLimits(t: PgTx, queue: string, group: string, limits: GroupLimits | null): Promise<void> {
  if (limits === null) await run(t, 'deleteLimits', [queue, GROUP, group]);
  else await run(t, 'setLimits', [queue, GROUP, group, limits.concurrency ?? null, limits.rate?.max ?? null, limits.rate?.perMs ?? null]);
}

/** A group's own limits. Reads: its row of the limits table. Returns them, or null. */
export async function getGroupLimits(t: PgTx, queue: string, group: string): Promise<GroupLimits | null> {
  return limitsOf((await run<LimitsRow>(t, 'limitsOf', [queue, GROUP, group])).rows[0]);
}

/** Stores a route's limits, one statement. Writes: its row of the limits table (scope 1), replaced, or deleted for null. */
export async function setRouteLimits(t: PgTx, queue: string, route: string, limits: RouteLimits | null): Promise<void> {
  if (limits === null) await run(t, 'deleteLimits', [queue, ROUTE, route]);
  else await run(t, 'setLimits', [queue, ROUTE, route, null, limits.rate.max, limits.rate.perMs]);
}

/** A route's limits. Reads: its row of the limits table. Returns them, or null. */
export async function getRouteLimits(t: PgTx, queue: string, route: string): Promise<RouteLimits | null> {
  const rate = limitsOf((await run<LimitsRow>(t, 'limitsOf', [queue, ROUTE, route])).rows[0])?.rate;
  return rate ? { rate } : null;
}

/**
 * A page of groups. Reads: the group keys after the cursor (loose scans of the running index and of
 * each route's grouped queued rows, the limits and the holds), then for each its queued rows, running
 * rows, hold and own limits. Returns them in key order, with the last key as the cursor when the page
 * is full; a group with nothing queued or running, no limits and no hold is left out.
 */
export async function listGroups(t: PgTx, query: GroupListQuery): Promise<GroupPage> {
  const now = Date.now();
  const after = query.cursor ?? '';
  const found = new Set((await run<{ grp: string }>(t, 'groupKeysAfter', [query.queue, after, query.limit, now])).rows.map((r) => r.grp));
  const routes = (await run<{ route: string }>(t, 'groupedRoutes', [query.queue])).rows.map((r) => r.route);
  for (const route of routes) {
    for (const { grp } of (await run<{ grp: string }>(t, 'queuedGroupsAfter', [query.queue, route, after, query.limit])).rows) found.add(grp);
  }
  // Sorted by the server, whose text order the next page's cursor is compared in.
  const keys = (await run<{ grp: string }>(t, 'orderKeys', [[...found], query.limit])).rows.map((r) => r.grp);
  const groups: GroupInfo[] = [];
  for (const group of keys) {
    const row = (await run<LimitsRow & { queued: number; running: number; held_until: string | number | null }>(t, 'groupInfo', [query.queue, group, routes, now])).rows[0]!;
    const limits = limitsOf(row.concurrency === null && row.rate_max === null ? undefined : row);
    const limitedUntil = row.held_until === null ? null : Number(row.held_until);
    if (row.queued + row.running > 0 || limitedUntil !== null || limits) groups.push({ group, queued: row.queued, running: row.running, limitedUntil, limits });
  }
  return { groups, cursor: keys.length === query.limit ? keys[keys.length - 1]! : null };
}

function limitsOf(row: LimitsRow | undefined): GroupLimits | null {
  if (!row) return null;
  const rate = row.rate_max === null || row.rate_per_ms === null ? null : { max: row.rate_max, perMs: Number(row.rate_per_ms) };
  return { ...(row.concurrency !== null && { concurrency: row.concurrency }), ...(rate && { rate }) };
}
