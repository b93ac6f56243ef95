// The claim of a route where grouped deliveries are ready or the route has limits: fair turns among
// the route's groups, each under its limits. It runs inside the claim's transaction, which the
// port's retry loop may run more than once: it reads and writes only through that transaction.
import type { GroupLimits, RateLimit } from '@skq/core';
import type { ClaimRequest, ClaimResult, ClaimedDelivery } from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import { startDelivery, type ClaimShare } from './claim-start.js';
import { holdKey, holdOf, readLimits } from './group-transactions.js';
import type { QueueTransaction } from './queue-transaction.js';
import { RateWindow } from './rate-window.js';

/** Turns a claim may take beyond its limit (groups visited that gave nothing), so that it fits FDB's 5 s. */
const IDLE_TURNS = 500;
/** Ready keys of a group read per turn: several claimers spread over them. */
const HEAD_PAGE = 4;
/** Slots of groups without a concurrency are drawn at random from here up: far above any limit, they never meet. */
const UNLIMITED_SLOTS = 2 ** 48;

/** What the claim knows when its turns begin. */
export interface TurnsContext {
  /** The claim's read version: the clock of leases and rate windows. */
  version: number;
  /** The route's earliest run time still ahead, from the timer index. */
  later: number | null;
  routeRate: RateLimit | null;
  /** The default group limits (`*`), and the group the route's last claim by turns served. */
  defaults: GroupLimits | null;
  cursor: string | null;
  /**
   * Which of the route's claimers this one is: its share among the route's active claimers, times
   * its place among this process's claims in flight on the route. Several take different slots and
   * deliveries of a group; a lone claimer takes them in order.
   */
  spread: ClaimShare;
}

/** The turn-key of a route's last claim, read with the claim's first reads. */
export function turnCursorKey(qt: QueueTransaction, route: string): Buffer {
  return qt.keys.key('turn', route);
}

/** A group as one claim sees it: read once (snapshots), then kept up to date by the claim's own starts. */
interface GroupState {
  rule: GroupLimits | null;
  holdUntil: number;
  window: RateWindow | null;
  /** With a concurrency: its slots taken, the claim's own included. */
  slots: Set<number> | null;
  /** A slot at or above the concurrency is taken (the limit was lowered, or set while the group ran without one). */
  strict: boolean;
  /** Whether the claim has taken its read conflicts on the group (at its first start). */
  conflicted: boolean;
}

/**
 * Claim by turns. The route's groups with ready deliveries take turns in key order, the jobs without a
 * group before the first group, starting after the group the route's last claim served (`turn,
 * route`), round and round, one delivery per turn, until `limit` are taken or a whole round took none.
 * - Reads, as snapshots: the route's rate window; the next group after each (one range read of
 *   `gr`); for each group its own limits, hold, slots taken and, with a rate, its window; its ready
 *   keys (priority, run time, enqueue order), read while the turn before runs; the ready keys without
 *   a group. A delivery to start is read with a conflict ({@link startDelivery}).
 * - Concurrency: every running delivery of a group holds one of its slots (`gs`); with a concurrency
 *   `c`, a start takes a free slot below `c`, so at most `c` run. Claims collide only on the slot (and
 *   the delivery) they take, which several claimers pick apart by their spread; an ending frees its
 *   slot without conflicting with any claim. Until slots at or above `c` are freed, a start reads
 *   them all with conflicts instead, and counts them.
 * - Holds and rates are judged from snapshots, so a claim held back conflicts with nothing; a claim
 *   that starts a delivery of a group takes a read conflict on its hold, and every rate window it adds
 *   to takes one on its count: a hold or another start committed meanwhile makes it run again.
 * - Writes: each delivery started with its slot; a start in each rate window; the cursor, at the last
 *   group served.
 * - Returns the deliveries; `limited` when a hold or limit held due work back; `nextRunAt`, when fewer
 *   than `limit` were taken, the earliest of `later` and the instants a hold or window ends (now, when
 *   the turns ran out before every group was visited and the claim took some or nothing was held
 *   back). Holds are instants on the claimer's clock, as run times are; windows run on cluster
 *   versions, as leases do.
 */
export async function claimByTurns(qt: QueueTransaction, request: ClaimRequest, context: TurnsContext): Promise<ClaimResult> {
  const { route, workerId, limit } = request;
  const { version, spread, defaults, cursor } = context;
  const deliveries: ClaimedDelivery[] = [];
  let limited = false;
  let nextRunAt = context.later;
  const note = (at: number | null) => {
    if (at !== null && (nextRunAt === null || at < nextRunAt)) nextRunAt = at;
  };
  const blocked = (until: number | null): false => {
    limited = true;
    note(until);
    return false;
  };
  /**
   * Among `n` candidates, which this claimer tries first: the first when alone; else its place modulo
   * the largest power of two up to `n`, so that two claimers apart at one group are apart at every
   * group with as much room (and can both commit).
   */
  const pick = (n: number) => {
    let m = 1;
    while (m * 2 <= n) m *= 2;
    return spread.of > 1 ? spread.index % m : 0;
  };
  const routeWindow = context.routeRate ? new RateWindow(qt, 'r', route, context.routeRate, version) : null;

  const states = new Map<string, Promise<GroupState>>();
  const readState = async (group: string): Promise<GroupState> => {
    // Its slots are read with its limits, as many as the default concurrency tells: most groups have no limits of their own.
    const guessed = defaults?.concurrency;
    const [own, holdUntil, seen] = await Promise.all([readLimits<GroupLimits>(qt, 'g', group), holdOf(qt, group), guessed === undefined ? null : takenSlots(qt, group, guessed, false)]);
    const rule = own ?? defaults;
    const concurrency = rule?.concurrency;
    let slots: Set<number> | null = null;
    if (concurrency !== undefined) slots = seen !== null && (seen.size <= guessed! || concurrency <= guessed!) ? seen : await takenSlots(qt, group, concurrency, false);
    const strict = slots !== null && [...slots].some((slot) => slot >= concurrency!);
    return { rule, holdUntil, window: rule?.rate ? new RateWindow(qt, 'g', group, rule.rate, version) : null, slots, strict, conflicted: false };
  };
  // A group's state (once per claim) and ready keys (each turn) are read ahead, while the turn before it runs.
  const ahead = new Map<string, Promise<[GroupState, [Buffer, Buffer][]]>>();
  const readAhead = (group: string) => {
    let visit = ahead.get(group);
    if (!visit) {
      if (!states.has(group)) states.set(group, readState(group));
      visit = Promise.all([states.get(group)!, qt.tr.snapshot.getRange(...qt.keys.range('gr', route, group), { limit: HEAD_PAGE })]);
      visit.catch(() => undefined);
      ahead.set(group, visit);
    }
    return visit;
  };

  const takeFromGroup = async (group: string): Promise<boolean> => {
    const [state, heads] = await readAhead(group);
    ahead.delete(group);
    if (state.holdUntil > qt.now) return blocked(state.holdUntil);
    const concurrency = state.rule?.concurrency;
    const free: number[] = [];
    if (state.slots && concurrency !== undefined) {
      if (state.slots.size >= concurrency) return blocked(null);
      for (let slot = 0; slot < concurrency && free.length < HEAD_PAGE; slot += 1) if (!state.slots.has(slot)) free.push(slot);
    }
    const opensAt = state.window ? await state.window.opensAt() : null;
    if (opensAt !== null) return blocked(opensAt);
    if (heads.length === 0) return false;
    // Several claimers pair the jth free slot with the jth delivery, so two collide only when they pick the same j.
    const first = pick(state.slots ? Math.min(heads.length, free.length) : heads.length);
    const slot = state.slots ? free[first]! : UNLIMITED_SLOTS + Math.floor(Math.random() * UNLIMITED_SLOTS);
    if (!state.conflicted && state.strict) await takenSlots(qt, group, concurrency!, true);
    for (let n = 0; n < heads.length; n += 1) {
      const [key] = heads[(first + n) % heads.length]!;
      const started = await startDelivery(qt, key, unpack(key).slice(-1)[0] as string, request, version, slot);
      if (!started) continue;
      deliveries.push(started);
      if (!state.conflicted) {
        state.conflicted = true;
        qt.tr.addReadConflictKey(holdKey(qt, group));
      }
      qt.tr.addReadConflictKey(qt.keys.key('gs', group, slot));
      state.slots?.add(slot);
      state.window?.record();
      return true;
    }
    return false;
  };

  // The ready deliveries without a group, this worker's own (broadcast) and the shared, merged in order.
  let ungrouped: { key: Buffer; parts: [number, number, number, string] }[] | null = null;
  const readyWithoutGroup = async () => {
    const heads = await Promise.all(['', workerId].map((target) => qt.tr.snapshot.getRange(...qt.keys.range('r', route, target), { limit })));
    return heads
      .flat()
      .map(([key]) => ({ key, parts: unpack(key).slice(5) as [number, number, number, string] }))
      .sort((a, b) => a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2]);
  };
  const takeUngrouped = async (): Promise<boolean> => {
    const heads = (ungrouped ??= await readyWithoutGroup());
    while (heads.length > 0) {
      const [head] = heads.splice(pick(Math.min(heads.length, HEAD_PAGE)), 1);
      const started = await startDelivery(qt, head!.key, head!.parts[3], request, version);
      if (started) {
        deliveries.push(started);
        return true;
      }
    }
    return false;
  };

  /** The turn after `key`: the route's next group with ready deliveries, or '' (the jobs without a group) after the last. */
  const turnAfter = async (key: string): Promise<string> => {
    const [begin, end] = qt.keys.range('gr', route);
    const [row] = await qt.tr.snapshot.getRange(key === '' ? begin : qt.keys.range('gr', route, key)[1], end, { limit: 1 });
    return row ? (unpack(row[0])[4] as string) : '';
  };

  let key = cursor === null ? '' : await turnAfter(cursor);
  // The turns since the last take: reaching one of them again is a whole round without a take.
  const idle = new Set<string>();
  let served: string | null = null;
  let previous: string | null = null;
  for (let turns = 0; ; turns += 1) {
    if (turns >= limit + IDLE_TURNS) {
      // Out of turns, not of work: the next claim goes on from here. At once when this one took
      // some or nothing held it back; when it took none and limits held back what it saw, at the
      // next wake-up instead (an end, a hold or window ending, the poll), so that a ring of held
      // groups longer than the turns is not claimed over and over.
      served = previous;
      if (deliveries.length > 0 || !limited) note(qt.now);
      break;
    }
    const routeOpensAt = routeWindow ? await routeWindow.opensAt() : null;
    if (routeOpensAt !== null) {
      limited = true;
      nextRunAt = routeOpensAt;
      break;
    }
    // The groups after this one do not change during its turn: the next is read meanwhile, and read ahead.
    const next = turnAfter(key).then((group) => {
      if (group !== '') void readAhead(group);
      return group;
    });
    const took = key === '' ? await takeUngrouped() : await takeFromGroup(key);
    const following = await next;
    if (took) {
      routeWindow?.record();
      served = key;
      idle.clear();
      if (deliveries.length >= limit) break;
    } else {
      idle.add(key);
      if (idle.has(following)) break;
    }
    previous = key;
    key = following;
  }
  if (served !== null && served !== cursor) qt.tr.set(turnCursorKey(qt, route), Buffer.from(served, 'utf8'));
  // Reads ahead for turns that did not come are left to finish before the commit.
  await Promise.allSettled(ahead.values());
  const full = deliveries.length >= limit;
  return { deliveries, nextRunAt: full ? null : nextRunAt, ...(limited && { limited: true }) };
}

/**
 * A group's slots taken, up to one more than its concurrency (enough to tell it full). A snapshot
 * when `conflict` is false; with it, a read conflict on them all, so that the claim commits only if
 * no slot was taken or freed meanwhile.
 */
async function takenSlots(qt: QueueTransaction, group: string, concurrency: number, conflict: boolean): Promise<Set<number>> {
  const rows = await (conflict ? qt.tr : qt.tr.snapshot).getRange(...qt.keys.range('gs', group), { limit: concurrency + 1 });
  return new Set(rows.map(([key]) => unpack(key).slice(-1)[0] as number));
}
