// Groups' and routes' limits, holds and the listing of groups. What a claim does with them is in
// `group-claim.ts`.
import type { GroupInfo, GroupLimits, GroupPage, RouteLimits } from '@skq/core';
import { DEFAULT_GROUP, type GroupListQuery } from '@skq/core/backend';
import type { LimitsDoc } from '../collections.js';
import { upsertRacing } from '../mongo-errors.js';
import type { MongoStore } from './store.js';

/** The `_id` of a limits document: queue + NUL + scope + NUL + key. */
export function limitsId(queue: string, scope: LimitsDoc['scope'], key: string): string {
  return `${queue}\u0000${scope}\u0000${key}`;
}

/** Limits as they were set: only the fields given (a stored `undefined` would read back as null). */
export function limitsOf(doc: Pick<LimitsDoc, 'limits'> | null | undefined): GroupLimits | null {
  if (!doc) return null;
  const { concurrency, rate } = doc.limits;
  return { ...(concurrency !== undefined && concurrency !== null && { concurrency }), ...(rate && { rate: { max: rate.max, perMs: rate.perMs } }) };
}

/** Stores a group's limits ('*': the default). Writes: its limits document, replaced, or deleted for null. */
export async function setGroupLimits(store: MongoStore, queue: string, group: string, limits: GroupLimits | null): Promise<void> {
  await setLimits(store, queue, 'group', group, limits);
}

/** A group's own limits. Reads: its limits document, by id. Returns them as set, or null. */
export async function getGroupLimits(store: MongoStore, queue: string, group: string): Promise<GroupLimits | null> {
  return limitsOf(await store.c.limits.findOne({ _id: limitsId(queue, 'group', group) }));
}

/** Stores a route's limits. Writes: its limits document, replaced, or deleted for null. */
export async function setRouteLimits(store: MongoStore, queue: string, route: string, limits: RouteLimits | null): Promise<void> {
  await setLimits(store, queue, 'route', route, limits);
}

/** A route's limits. Reads: its limits document, by id. Returns them, or null. */
export async function getRouteLimits(store: MongoStore, queue: string, route: string): Promise<RouteLimits | null> {
  const rate = limitsOf(await store.c.limits.findOne({ _id: limitsId(queue, 'route', route) }))?.rate;
  return rate ? { rate } : null;
}

async function setLimits(store: MongoStore, queue: string, scope: LimitsDoc['scope'], key: string, limits: GroupLimits | null): Promise<void> {
  const _id = limitsId(queue, scope, key);
  if (limits === null) await store.c.limits.deleteOne({ _id });
  else await upsertRacing(() => store.c.limits.replaceOne({ _id }, { queue, scope, key, limits: limitsOf({ limits })! }, { upsert: true }));
}

/**
 * Holds a group until `until` (a rate-limited attempt's `holdGroupUntil`). Writes: the group's hold
 * document, its end moved later only (`$max`), inserted if none. Returns nothing.
 */
export async function holdGroup(store: MongoStore, queue: string, grp: string, until: number): Promise<void> {
  await upsertRacing(() => store.c.holds.updateOne({ _id: `${queue}\u0000${grp}` }, { $max: { until }, $setOnInsert: { queue, grp } }, { upsert: true }));
}

/**
 * A page of groups. Reads, at once: the queued and running deliveries of the groups after the
 * cursor, counted per group and state (an aggregation on the 'group-state' index), the own limits after it
 * (the 'keys' index) and the holds still on; each limited to a page. Returns the first `limit`
 * keys of the three in key order, with the last key as the cursor when the page is full.
 */
export async function listGroups(store: MongoStore, query: GroupListQuery): Promise<GroupPage> {
  const { c } = store;
  const { queue, limit } = query;
  const now = Date.now();
  const after = query.cursor ?? '';
  const [counted, limited, held] = await Promise.all([
    // Grouped by group and state (the shape every server here runs): at most two rows a group.
    c.deliveries
      .aggregate<{ _id: { grp: string; state: 'queued' | 'running' }; n: number }>([
        { $match: { queue, grp: { $gt: after }, state: { $in: ['queued', 'running'] } } },
        { $group: { _id: { grp: '$grp', state: '$state' }, n: { $sum: 1 } } },
        { $sort: { '_id.grp': 1 } },
        { $limit: 2 * limit },
      ])
      .toArray(),
    c.limits.find({ queue, scope: 'group', key: { $gt: after, $ne: DEFAULT_GROUP } }).sort({ key: 1 }).limit(limit).toArray(),
    c.holds.find({ queue, grp: { $gt: after }, until: { $gt: now } }).sort({ grp: 1 }).limit(limit).toArray(),
  ]);
  const counts = new Map<string, { queued: number; running: number }>();
  for (const { _id, n } of counted) {
    const count = counts.get(_id.grp) ?? { queued: 0, running: 0 };
    count[_id.state] += n;
    counts.set(_id.grp, count);
  }
  const own = new Map(limited.map((l) => [l.key, limitsOf(l)]));
  const holds = new Map(held.map((h) => [h.grp, h.until]));
  const keys = [...new Set([...counts.keys(), ...own.keys(), ...holds.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit);
  const groups: GroupInfo[] = keys.map((group) => ({
    group,
    queued: counts.get(group)?.queued ?? 0,
    running: counts.get(group)?.running ?? 0,
    limitedUntil: holds.get(group) ?? null,
    limits: own.get(group) ?? null,
  }));
  return { groups, cursor: keys.length === limit ? keys[keys.length - 1]! : null };
}

/** What no claim needs any more; part of the recovery sweep. Writes: the queue's holds that ended, deleted (the 'active' index). */
export async function dropEndedHolds(store: MongoStore, queue: string, now: number): Promise<void> {
  await store.c.holds.deleteMany({ queue, until: { $lte: now } });
}
