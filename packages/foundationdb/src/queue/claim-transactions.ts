// The claim transaction and its parts: which of a route's claimers this one is, due deliveries
// promoted, the head of the ready index split between claimers (on routes without groups or
// limits), and a claim's replay. Each runs inside the claim's transaction, which the port's retry
// loop may run more than once.
import type { GroupLimits, RouteLimits } from '@skq/core';
import { type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import { claimByTurns, turnCursorKey } from './claim-by-turns.js';
import { startDelivery, type ClaimShare } from './claim-start.js';
import { readLimits } from './group-transactions.js';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';
import { liveWorkers } from './queue-state-transactions.js';
import { toClaimed } from './records.js';

/** Due deliveries moved from the timer index to the ready index per claim. */
const PROMOTE_LIMIT = 256;
/** How long a claimer counts as active for spreading claims (in cluster versions: 2 s). */
const ACTIVE_CLAIMER_VERSIONS = 2_000 * VERSIONS_PER_MS;

/**
 * Which of the route's claimers this one is, by worker id: the live workers registered on the
 * route (liveness is the registration's expiry version, never a clock), and claimers that are not
 * registered but claimed in the last 2 s of cluster versions. An unregistered claimer leaves its
 * presence with a blind write (no conflict) at most once a second. Both are snapshot reads.
 */
export async function claimShare(qt: QueueTransaction, route: string, workerId: string): Promise<ClaimShare> {
  const version = await qt.version();
  const active = new Set<string>([workerId]);
  let registered = false;
  for (const w of await liveWorkers(qt)) {
    if (!w.routes.includes(route)) continue;
    active.add(w.id);
    if (w.id === workerId) registered = true;
  }
  let seen = -Infinity;
  for (const [key, value] of await qt.tr.snapshot.getRange(...qt.keys.range('cl', route))) {
    const at = Number(value.readBigInt64BE(0));
    const id = unpack(key).slice(-1)[0] as string;
    if (id === workerId) seen = at;
    else if (version - at < ACTIVE_CLAIMER_VERSIONS) active.add(id);
  }
  if (!registered && version - seen > ACTIVE_CLAIMER_VERSIONS / 2) {
    const stamp = Buffer.alloc(8);
    stamp.writeBigInt64BE(BigInt(version));
    qt.tr.set(qt.keys.key('cl', route, workerId), stamp);
  }
  const sorted = [...active].sort();
  return { index: sorted.indexOf(workerId), of: sorted.length };
}

/**
 * Claim. Reads: the pause keys (so a pause committed meanwhile conflicts), the route's limits and
 * whether grouped deliveries are ready on it, a snapshot of the timer and ready indexes, and each
 * chosen delivery (the only read conflict on pending work: two claimers collide only when they
 * choose the same delivery). Writes: due timer entries moved to the ready indexes, the chosen
 * deliveries started (see {@link startDelivery}). `sharing`, read meanwhile, says which of the
 * active claimers this one is: a lone claimer takes the head in strict order; several split the
 * head between them. A route with grouped deliveries ready or with limits is claimed by turns
 * instead ({@link claimByTurns}), where `local` (this claim's place among the process's claims in
 * flight on the route) spreads claimers too.
 */
export async function claimDeliveries(qt: QueueTransaction, request: ClaimRequest, sharing: Promise<ClaimShare>, local: ClaimShare): Promise<ClaimResult> {
  const { route, workerId, limit } = request;
  // Awaited on every way out (its write belongs to this commit); a failure of the body leaves it handled.
  sharing.catch(() => undefined);
  // One round trip, as before groups: what tells a claim by turns, and what it starts from, is read with the pause keys.
  const [routePaused, queuePaused, routeLimits, groupedHead, defaults, cursor] = await Promise.all([
    qt.tr.get(qt.keys.key('paused', route)),
    qt.tr.get(qt.keys.key('paused', '*')),
    readLimits<RouteLimits>(qt, 'r', route),
    qt.tr.snapshot.getRange(...qt.keys.range('gr', route), { limit: 1 }),
    readLimits<GroupLimits>(qt, 'g', '*'),
    qt.tr.snapshot.get(turnCursorKey(qt, route)),
  ]);
  if (routePaused || queuePaused) {
    await sharing;
    return { deliveries: [], nextRunAt: null, paused: true };
  }
  const version = await qt.version();
  let nextRunAt: number | null = null;
  let grouped = groupedHead.length > 0;
  for (const promoted of await Promise.all(['', workerId].map((target) => promoteDue(qt, route, target)))) {
    grouped ||= promoted.grouped;
    if (promoted.next !== null && (nextRunAt === null || promoted.next < nextRunAt)) nextRunAt = promoted.next;
  }
  if (grouped || routeLimits) {
    const share = await sharing;
    const spread = { index: share.index * local.of + local.index, of: share.of * local.of };
    return claimByTurns(qt, request, { version, later: nextRunAt, routeRate: routeLimits?.rate ?? null, defaults, cursor: cursor?.toString('utf8') ?? null, spread });
  }
  const share = await sharing;
  // Deliveries targeted at this worker (broadcast) are its alone; the shared ones are split by share.
  const own = await qt.tr.snapshot.getRange(...qt.keys.range('r', route, workerId), { limit });
  const shared = await sharedHead(qt, route, limit, share);
  const candidates = [...own, ...shared]
    .map(([key]) => ({ key, parts: unpack(key).slice(5) as [number, number, number, string] }))
    .sort((a, b) => a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2]);
  const chosen = choose(candidates, limit, share);
  const claimed: ClaimedDelivery[] = [];
  for (const { key, parts } of chosen) {
    const started = await startDelivery(qt, key, parts[3], request, version);
    if (started) claimed.push(started);
  }
  return { deliveries: claimed, nextRunAt: claimed.length < limit ? nextRunAt : null };
}

/**
 * A claim's replay after commit_unknown_result. Reads: the deliveries the claim's marker names and
 * their jobs, as snapshots. Writes nothing. Returns them as the committed run claimed them.
 */
export async function replayClaim(qt: QueueTransaction, ids: string[]): Promise<ClaimResult> {
  const deliveries = [];
  for (const id of ids) {
    const d = await qt.delivery(id, true);
    const job = d ? await qt.job(d.jobId, true) : null;
    if (d && job) deliveries.push(toClaimed(qt.queue, d, job, qt.now));
  }
  return { deliveries, nextRunAt: null };
}

/**
 * The head of the shared ready index, as far as this claimer needs: a lone claimer reads `limit`
 * keys; one of several reads pages of eight times the shares until one holds a key of its share
 * (at most {@link MAX_PAGES}), so a claimer whose share the others left behind in the head looks
 * further instead of taking theirs.
 */
async function sharedHead(qt: QueueTransaction, route: string, limit: number, share: ClaimShare): Promise<[Buffer, Buffer][]> {
  let [begin] = qt.keys.range('r', route, '');
  const end = qt.keys.range('r', route, '')[1];
  if (share.of <= 1) return qt.tr.snapshot.getRange(begin, end, { limit });
  const page = Math.min(WINDOW_LIMIT, limit * share.of * 8);
  const rows: [Buffer, Buffer][] = [];
  for (let n = 0; n < MAX_PAGES; n += 1) {
    const found = await qt.tr.snapshot.getRange(begin, end, { limit: page });
    rows.push(...found);
    if (found.length < page || found.some(([key]) => shareOf(unpack(key).slice(-1)[0] as string, share.of, 0) === share.index)) break;
    begin = Buffer.concat([found[found.length - 1]![0], Buffer.from([0x00])]);
  }
  return rows;
}

/**
 * Moves due timer entries of one target to the ready indexes (a grouped one, whose timer value is
 * its group, to `gr`). Returns the earliest run time still ahead, and whether a grouped one moved.
 */
async function promoteDue(qt: QueueTransaction, route: string, target: string): Promise<{ next: number | null; grouped: boolean }> {
  const [begin, end] = qt.keys.range('t', route, target);
  const entries = await qt.tr.snapshot.getRange(begin, end, { limit: PROMOTE_LIMIT + 1 });
  let grouped = false;
  for (const [key, value] of entries) {
    const [runAt, negPriority, seq, id] = unpack(key).slice(5) as [number, number, number, string];
    if (runAt > qt.now) return { next: runAt, grouped };
    // Blind writes: two claimers promoting the same entry write the same keys and do not conflict.
    qt.tr.clear(key);
    if (value.length > 0) {
      grouped = true;
      qt.tr.set(qt.keys.key('gr', route, value.toString('utf8'), negPriority, runAt, seq, id), Buffer.alloc(0));
    } else {
      qt.tr.set(qt.keys.key('r', route, target, negPriority, runAt, seq, id), Buffer.alloc(0));
    }
  }
  return { next: null, grouped };
}

/** The most head keys a claim reads per page, and the most pages. */
const WINDOW_LIMIT = 1_000;
const MAX_PAGES = 4;

/**
 * The deliveries to claim. Alone, the first `limit` in order. Among several claimers, the first of
 * the head that fall to this claimer's share (a hash of the delivery id, so a delivery's owner does
 * not change as others are taken): claimers that agree on who is active never pick the same
 * delivery, which is what keeps conflicts rare. With none of its share in what it read, a claimer
 * helps with the deliveries a second hash gives it, so no delivery waits on a claimer that fell
 * behind (one that went away stops counting when its registration expires).
 */
function choose<T extends { parts: [number, number, number, string] }>(candidates: T[], limit: number, share: ClaimShare): T[] {
  if (share.of <= 1 || candidates.length <= 1) return candidates.slice(0, limit);
  const picked = candidates.filter((c) => shareOf(c.parts[3], share.of, 0) === share.index).slice(0, limit);
  // Short of its share: it helps with the deliveries a second, independent hash gives it, from the
  // far end, where their owners come last. Each delivery then has one owner and one helper, so at
  // most two claimers contend for it.
  if (picked.length < limit) {
    const helped = candidates.filter((c) => !picked.includes(c) && shareOf(c.parts[3], share.of, 1) === share.index);
    picked.push(...helped.slice(-(limit - picked.length)));
  }
  if (picked.length < limit) {
    // Neither its share nor its help is here (a nearly empty queue): the rest, in order to finish a
    // batch, or at random to start one, so that idle claimers do not all take the first.
    const rest = candidates.filter((c) => !picked.includes(c));
    if (picked.length > 0) picked.push(...rest.slice(0, limit - picked.length));
    else while (picked.length < limit && rest.length) picked.push(rest.splice(Math.floor(Math.random() * rest.length), 1)[0]!);
  }
  return picked.sort((a, b) => a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2]);
}

/** FNV-1a of the delivery id (with a different start for each `seed`), modulo the number of shares. */
function shareOf(id: string, of: number, seed: 0 | 1): number {
  let h = seed === 0 ? 0x811c9dc5 : 0x01000193;
  for (let i = 0; i < id.length; i += 1) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % of;
}
