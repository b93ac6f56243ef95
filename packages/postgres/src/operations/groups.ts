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
 * A page of groups, one statement. Reads: the group keys after the cursor (a loose scan of the
 * running index, the turns, the limits and the holds) and, for each, its queued rows (on the routes
 * where it has a turn), running rows, hold and own limits. Returns them in key order, with the last
 * key as the cursor when the page is full; a group with nothing queued or running, no limits and no
 * hold (a turn not yet found empty) is left out.
 */
export async function listGroups(t: PgTx, query: GroupListQuery): Promise<GroupPage> {
  const rows = (
    await run<LimitsRow & { grp: string; queued: number; running: number; held_until: string | number | null }>(t, 'groupsAfter', [
      query.queue,
      query.cursor ?? '',
      query.limit,
      Date.now(),
    ])
  ).rows;
  const groups: GroupInfo[] = [];
  for (const row of rows) {
    const limits = limitsOf(row.concurrency === null && row.rate_max === null ? undefined : row);
    const limitedUntil = row.held_until === null ? null : Number(row.held_until);
    if (row.queued + row.running > 0 || limitedUntil !== null || limits) groups.push({ group: row.grp, queued: row.queued, running: row.running, limitedUntil, limits });
  }
  return { groups, cursor: rows.length === query.limit ? rows[rows.length - 1]!.grp : null };
}

function limitsOf(row: LimitsRow | undefined): GroupLimits | null {
  if (!row) return null;
  const rate = row.rate_max === null || row.rate_per_ms === null ? null : { max: row.rate_max, perMs: Number(row.rate_per_ms) };
  return { ...(row.concurrency !== null && { concurrency: row.concurrency }), ...(rate && { rate }) };
}
