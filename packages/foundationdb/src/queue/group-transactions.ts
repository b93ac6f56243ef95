// The transactions of groups apart from the claim: limits stored and read, a group's hold, the
// listing of groups, and the sweep of what no group needs any more. Each runs in the port's retry
// loop; every write here is a set, a clear or an atomic max, which a rerun repeats harmlessly.
import type { GroupInfo, GroupLimits, GroupPage, RouteLimits } from '@skq/core';
import type { GroupListQuery } from '@skq/core/backend';
import { unpack, type TuplePart } from '../kv/tuple.js';
import type { QueueTransaction } from './queue-transaction.js';
import { counterValue, decode, encode } from './records.js';

/** Whose limits: a group's (`*` the default for groups without their own) or a route's. */
export type LimitScope = 'g' | 'r';

/** Keys a listing scans per source before it cuts its page short, to stay well inside FDB's 5 s. */
const LIST_SCAN_KEYS = 10_000;
/** Group counters the sweep looks at per run, going round the queue's groups over successive runs. */
const SWEEP_COUNTER_KEYS = 500;

/** Set limits. Reads nothing. Writes: the limits as given under `lim, scope, key`, or the key cleared for null. */
export function setLimits(qt: QueueTransaction, scope: LimitScope, key: string, limits: GroupLimits | RouteLimits | null): void {
  if (limits === null) qt.tr.clear(qt.keys.key('lim', scope, key));
  else qt.tr.set(qt.keys.key('lim', scope, key), encode(limits));
}

/**
 * Read limits. Reads: `lim, scope, key`, as a snapshot (a change of limits applies to the claims that
 * start after it, and conflicts with none). Returns them as set, or null.
 */
export async function readLimits<T extends GroupLimits | RouteLimits>(qt: QueueTransaction, scope: LimitScope, key: string): Promise<T | null> {
  const raw = await qt.tr.snapshot.get(qt.keys.key('lim', scope, key));
  return raw ? decode<T>(raw) : null;
}

export function holdKey(qt: QueueTransaction, group: string): Buffer {
  return qt.keys.key('gh', group);
}

/** Holds a group until `until` (epoch ms) or later: an atomic max, so holds only ever lengthen, and two never conflict. */
export function holdGroup(qt: QueueTransaction, group: string, until: number): void {
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(until))));
  qt.tr.max(holdKey(qt, group), value);
}

/** The instant a group's hold ends, or 0 when it has none; a snapshot read (a claim that starts one of the group adds the conflict). */
export async function holdOf(qt: QueueTransaction, group: string): Promise<number> {
  return holdValue(await qt.tr.snapshot.get(holdKey(qt, group)));
}

function holdValue(raw: Buffer | undefined): number {
  return raw && raw.length >= 8 ? Number(raw.readBigUInt64LE(0)) : 0;
}

/**
 * A page of groups. Reads, as snapshots: after the cursor, the group counters (groups with queued or
 * running deliveries), the groups' own limits and the holds still running; then for each group of
 * the page its counters, hold and limits. Writes nothing. Returns them in key order, the last key
 * as the cursor when the page is full (or when a scan was cut short, so that the rest follows).
 * Holds are judged by this machine's clock, as run times are.
 */
export async function listGroups(qt: QueueTransaction, query: GroupListQuery): Promise<GroupPage> {
  const { cursor, limit } = query;
  const sources = await Promise.all([
    scanGroups(qt, ['gc'], cursor, limit, (value) => counterValue(value) !== 0),
    scanGroups(qt, ['lim', 'g'], cursor, limit, (_value, group) => group !== '*'),
    scanGroups(qt, ['gh'], cursor, limit, (value) => holdValue(value) > qt.now),
  ]);
  const cuts = sources.map((s) => s.cut).filter((c): c is string => c !== null).sort(byKey);
  const cut = cuts[0] ?? null;
  const keys = [...new Set(sources.flatMap((s) => s.groups))].filter((g) => cut === null || byKey(g, cut) <= 0).sort(byKey).slice(0, limit);
  const groups: GroupInfo[] = [];
  for (const group of keys) {
    const [queued, running, hold, limits] = await Promise.all([
      qt.tr.snapshot.get(qt.keys.groupCounter(group, 'queued')),
      qt.tr.snapshot.get(qt.keys.groupCounter(group, 'running')),
      qt.tr.snapshot.get(holdKey(qt, group)),
      readLimits<GroupLimits>(qt, 'g', group),
    ]);
    const until = holdValue(hold);
    groups.push({ group, queued: counterValue(queued), running: counterValue(running), limitedUntil: until > qt.now ? until : null, limits });
  }
  const full = keys.length === limit;
  return { groups, cursor: full ? keys[keys.length - 1]! : keys.length < limit && cut !== null ? cut : null };
}

/**
 * Up to `want` groups after `cursor` among the keys under `parts` (the group is the part right after
 * them) whose value passes `keep`, in key order. `cut` is the last group scanned when the scan
 * stopped at {@link LIST_SCAN_KEYS} keys before finding `want`: groups after it were not looked at.
 */
async function scanGroups(qt: QueueTransaction, parts: TuplePart[], cursor: string | null, want: number, keep: (value: Buffer, group: string) => boolean): Promise<{ groups: string[]; cut: string | null }> {
  const end = qt.keys.range(...parts)[1];
  let begin = cursor === null ? qt.keys.range(...parts)[0] : qt.keys.range(...parts, cursor)[1];
  const groups: string[] = [];
  let scanned = 0;
  const page = Math.min(1_000, want * 2 + 2);
  const groupOf = (key: Buffer) => unpack(key)[parts.length + 2] as string;
  const take = (rows: [Buffer, Buffer][]) => {
    for (const [key, value] of rows) {
      const group = groupOf(key);
      if (keep(value, group) && groups[groups.length - 1] !== group) groups.push(group);
    }
  };
  while (groups.length < want) {
    const rows = await qt.tr.snapshot.getRange(begin, end, { limit: page });
    take(rows);
    scanned += rows.length;
    if (rows.length < page) break;
    const last = rows[rows.length - 1]![0];
    begin = Buffer.concat([last, Buffer.from([0x00])]);
    if (scanned >= LIST_SCAN_KEYS && groups.length < want) {
      // The last group's other keys, so that the page cut after it has all of it.
      const cut = groupOf(last);
      take(await qt.tr.snapshot.getRange(begin, qt.keys.range(...parts, cut)[1]));
      return { groups, cut };
    }
  }
  return { groups: groups.slice(0, want), cut: null };
}

/** Group keys in the order of their keys (UTF-8 bytes), which is not JavaScript's string order. */
function byKey(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Clears what no group needs any more, with lease recovery. Reads: the holds, and a page of group
 * counters from where the last sweep stopped (snapshots). Writes: holds that ended (by this machine's
 * clock) and counters at zero cleared, each under a read conflict on its key, so that a hold or a
 * count committed meanwhile makes the sweep run again rather than be lost; where the next sweep goes on.
 */
export async function sweepGroups(qt: QueueTransaction): Promise<void> {
  for (const [key, value] of await qt.tr.snapshot.getRange(...qt.keys.range('gh'), { limit: 1_000 })) {
    if (holdValue(value) > qt.now) continue;
    qt.tr.addReadConflictKey(key);
    qt.tr.clear(key);
  }
  const position = qt.keys.key('gcsweep');
  const [begin, end] = qt.keys.range('gc');
  const rows = await qt.tr.snapshot.getRange((await qt.tr.snapshot.get(position)) ?? begin, end, { limit: SWEEP_COUNTER_KEYS });
  for (const [key, value] of rows) {
    if (counterValue(value) !== 0) continue;
    qt.tr.addReadConflictKey(key);
    qt.tr.clear(key);
  }
  if (rows.length < SWEEP_COUNTER_KEYS) qt.tr.clear(position);
  else qt.tr.set(position, Buffer.concat([rows[rows.length - 1]![0], Buffer.from([0x00])]));
}
