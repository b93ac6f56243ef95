// Concurrency slots: a semaphore per group, exact across processes without transactions.
//
// A group with `concurrency: c` has slots 0 … c-1, one document each (`SlotDoc`), taken by a
// compare-and-set on its version (or an insert, for a slot not yet made: its `_id` is unique). A
// claim names in the slot the delivery and attempt it will start, before it starts it:
// - the slot is busy while that delivery runs that attempt, and free once it has ended it (its
//   `attempts` has reached the attempt and it no longer runs it), so endings write nothing here;
// - while the delivery's `attempts` is below it, the claim is under way: the slot stays busy for
//   PENDING_MS. After that its claimer may have died, or may still be about to start the delivery:
//   a claimer that wants the slot first fences that claim (adds its owner to the delivery's
//   `fences`, which the claim's compare-and-set excludes), then reads the delivery again. A slot is
//   never held twice, and none is lost for longer than PENDING_MS.
// A lease that expires frees its slot when recovery puts the delivery back (it no longer runs).
import type { SlotDoc } from '../collections.js';
import type { DeliveryDoc } from '../documents.js';
import { isDuplicateKey } from '../mongo-errors.js';
import type { MongoStore } from './store.js';

/** How long a slot taken for a claim that has not started its delivery yet stays busy before it may be fenced and taken over. */
const PENDING_MS = 10_000;

/** A slot a claim holds: its group, number and version. */
export interface HeldSlot {
  grp: string;
  i: number;
  v: number;
}

/** What a claim puts in a slot: the delivery and the attempt number its claim will give it. */
export interface SlotTarget {
  deliveryId: string;
  attempt: number;
}

/** A group's slots as one read saw them, and those free below the usable count. */
export interface SlotView {
  grp: string;
  slots: Map<number, SlotDoc>;
  free: number[];
}

type Row = Pick<DeliveryDoc, '_id' | 'state' | 'attempts' | 'slotted'>;

function slotId(queue: string, grp: string, i: number): string {
  return `${queue}\u0000${grp}\u0000${i}`;
}

/**
 * Where a group's slots stand.
 * - Reads: the group's slot documents (the 'group' index); then, in one query, the deliveries they
 *   name and the group's running deliveries (the 'group-state' index).
 * - Writes: for a slot whose claim is older than PENDING_MS and has not started its delivery, a
 *   fence on that delivery, then the delivery is read again (see the file's header).
 * - Returns the view, or null when the group runs `concurrency` already.
 * Running deliveries of the group that hold no slot (started before it had this limit) take slots
 * from the top, and a slot at or above the usable count still busy (the limit was lowered) holds
 * the group back until it frees: the group never runs more than `concurrency` after a change either.
 */
export async function readSlots(store: MongoStore, queue: string, grp: string, concurrency: number, now: number): Promise<SlotView | null> {
  const slots = new Map((await store.c.slots.find({ queue, grp }).toArray()).map((s) => [s.i, s]));
  const named = [...slots.values()].flatMap((s) => (s.holder === null ? [] : [s.holder]));
  // Slots first, then the deliveries: a claim names its delivery in a slot before it starts it, so
  // the deliveries read are at least as new as the slots that name them.
  const rows = await store.c.deliveries
    .find({ $or: [{ queue, grp, state: 'running' }, ...(named.length ? [{ _id: { $in: named } }] : [])] }, { projection: { state: 1, attempts: 1, slotted: 1 } })
    .toArray();
  const byId = new Map<string, Row>(rows.map((r) => [r._id, r]));
  const usable = concurrency - rows.filter((r) => r.state === 'running' && !r.slotted).length;
  const free: number[] = [];
  const top = Math.max(usable, ...[...slots.keys()].map((i) => i + 1));
  for (let i = 0; i < top; i += 1) {
    const slot = slots.get(i);
    const busy = slot ? await isBusy(store, slot, byId, now) : false;
    if (i >= usable && busy) return null;
    if (i < usable && !busy) free.push(i);
  }
  return free.length ? { grp, slots, free } : null;
}

/**
 * Takes a free slot of `view`, for the delivery `pick` names for the slot's rank among the free ones
 * (so racing claims that win different slots name different deliveries; null: none for that rank).
 * Writes: the slot, a compare-and-set on its version as read (an insert for a slot not made yet),
 * which fails when a racing claim took it first: then another free one is tried. Returns the slot
 * and its delivery, and takes the slot out of the view; or null once racing claims won every free
 * slot of the view: the group is theirs for now, and this claim passes it by.
 */
export async function takeSlot(
  store: MongoStore,
  queue: string,
  view: SlotView,
  pick: (rank: number) => SlotTarget | null,
  owner: string,
  now: number,
): Promise<{ slot: HeldSlot; target: SlotTarget } | null> {
  const { grp, free, slots } = view;
  // From a random free slot on: racing claims that read the same free slots mostly try different ones.
  const from = Math.floor(Math.random() * free.length);
  for (let n = 0; n < free.length; n += 1) {
    const rank = (from + n) % free.length;
    const target = pick(rank);
    if (!target) continue;
    const i = free[rank]!;
    const seen = slots.get(i);
    const held = { holder: target.deliveryId, attempt: target.attempt, owner, at: now };
    if (seen) {
      const taken = await store.c.slots.updateOne({ _id: seen._id, v: seen.v }, { $set: held, $inc: { v: 1 } });
      if (taken.modifiedCount !== 1) continue;
    } else {
      try {
        await store.c.slots.insertOne({ _id: slotId(queue, grp, i), queue, grp, i, v: 0, ...held });
      } catch (err) {
        if (isDuplicateKey(err)) continue;
        throw err;
      }
    }
    free.splice(rank, 1);
    return { slot: { grp, i, v: seen ? seen.v + 1 : 0 }, target };
  }
  return null;
}

/** Gives back a slot whose delivery was not started. Writes: the slot free, a compare-and-set on its version. */
export async function releaseSlot(store: MongoStore, queue: string, slot: HeldSlot | null): Promise<void> {
  if (!slot) return;
  await store.c.slots.updateOne({ _id: slotId(queue, slot.grp, slot.i), v: slot.v }, { $set: { holder: null }, $inc: { v: 1 } });
}

/**
 * Whether a slot holds its group: its delivery runs the attempt it names, or its claim is under way.
 * A claim under way longer than PENDING_MS is fenced (see the file's header): Writes the fence,
 * Reads the delivery again.
 */
async function isBusy(store: MongoStore, slot: SlotDoc, byId: Map<string, Row>, now: number): Promise<boolean> {
  if (slot.holder === null) return false;
  const row = byId.get(slot.holder);
  if (!row) return false; // the delivery is gone
  if (row.attempts >= slot.attempt) return row.state === 'running' && row.attempts === slot.attempt;
  if (now - slot.at < PENDING_MS) return true;
  // The claim's compare-and-set needs `attempts` one below the slot's attempt and its owner not fenced.
  await store.c.deliveries.updateOne({ _id: slot.holder, attempts: slot.attempt - 1 }, { $addToSet: { fences: slot.owner } });
  const again = await store.c.deliveries.findOne({ _id: slot.holder }, { projection: { state: 1, attempts: 1 } });
  return again !== null && again.state === 'running' && again.attempts === slot.attempt;
}
