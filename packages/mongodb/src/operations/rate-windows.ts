// Sliding rate windows, exact across processes without transactions. A key (a group's or a route's
// rate) has up to `max` start documents (`StartDoc`, slots 0 … max-1, made as needed: the `_id` is
// unique), each holding the time of one start. A start takes a slot whose time has left the window
// (at or before now - perMs), by a compare-and-set on that time: each slot's times are then at
// least `perMs` apart, so any window of `perMs` holds at most one start of each slot, `max` in all.
// Times are the claim's clock (`request.now ?? Date.now()`), the same that stamps `startedAt`.
import type { RateLimit } from '@skq/core';
import type { StartDoc } from '../collections.js';
import { isDuplicateKey } from '../mongo-errors.js';
import type { MongoStore } from './store.js';

/** A start a claim took, and the time its slot held before, to give it back. */
export interface TakenStart {
  id: string;
  prevAt: number;
  owner: string;
}

/** A start, or when the window lets one more through (null: racing claims won every slot tried). */
export type StartOutcome = { taken: TakenStart } | { opensAt: number | null };

/** How often a claim tries again after racing claims won the slot it chose. */
const START_TRIES = 4;

function startId(queue: string, scope: StartDoc['scope'], key: string, i: number): string {
  return `${queue}\u0000${scope}\u0000${key}\u0000${i}`;
}

/**
 * Where a window stands. Reads, at once (the 'window-age' and 'window' indexes): the key's oldest
 * start among slots below `max`, its highest slot number, and whether a slot at or above `max` (the
 * rate was lowered) still holds a start in the window. Returns the slot to take (a new one while
 * fewer than `max` exist and none has left the window), or when the window opens.
 */
async function slotToTake(store: MongoStore, queue: string, scope: StartDoc['scope'], key: string, rate: RateLimit, now: number): Promise<{ slot: StartDoc | number } | { opensAt: number }> {
  const since = now - rate.perMs;
  const { starts } = store.c;
  const [oldest, highest, over] = await Promise.all([
    starts.findOne({ queue, scope, key, i: { $lt: rate.max } }, { sort: { at: 1 } }),
    starts.findOne({ queue, scope, key }, { sort: { i: -1 }, projection: { i: 1 } }),
    starts.findOne({ queue, scope, key, i: { $gte: rate.max }, at: { $gt: since } }, { sort: { at: -1 }, projection: { at: 1 } }),
  ]);
  if (over) return { opensAt: over.at + rate.perMs };
  if (oldest && oldest.at <= since) return { slot: oldest };
  const next = (highest?.i ?? -1) + 1;
  if (next < rate.max) return { slot: next };
  return { opensAt: oldest ? oldest.at + rate.perMs : now };
}

/**
 * Takes a start of a key's window at `now`. Reads: see {@link slotToTake}. Writes: the slot's time,
 * a compare-and-set on the time read (an insert for a new slot); a race lost reads again, up to
 * START_TRIES times. Returns the start, or when the window opens when it is full.
 */
export async function takeStart(store: MongoStore, queue: string, scope: StartDoc['scope'], key: string, rate: RateLimit, now: number, owner: string): Promise<StartOutcome> {
  const { starts } = store.c;
  for (let tries = 0; tries < START_TRIES; tries += 1) {
    const chosen = await slotToTake(store, queue, scope, key, rate, now);
    if ('opensAt' in chosen) return chosen;
    const { slot } = chosen;
    if (typeof slot === 'number') {
      const _id = startId(queue, scope, key, slot);
      try {
        await starts.insertOne({ _id, queue, scope, key, i: slot, at: now, owner });
        return { taken: { id: _id, prevAt: 0, owner } };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    } else {
      const taken = await starts.updateOne({ _id: slot._id, at: slot.at }, { $set: { at: now, owner } });
      if (taken.modifiedCount === 1) return { taken: { id: slot._id, prevAt: slot.at, owner } };
    }
  }
  return { opensAt: null };
}

/**
 * Gives back a start whose delivery was not started after all. Writes: the slot's time set back to
 * what it was, a compare-and-set on this claim's start (still its own: no claim takes a slot whose
 * time is in the window).
 */
export async function giveBackStart(store: MongoStore, start: TakenStart | null, now: number): Promise<void> {
  if (start) await store.c.starts.updateOne({ _id: start.id, at: now, owner: start.owner }, { $set: { at: start.prevAt } });
}

/** When a key's window lets one more start through: null when it does now. Reads: see {@link slotToTake}. */
export async function windowOpensAt(store: MongoStore, queue: string, scope: StartDoc['scope'], key: string, rate: RateLimit, now: number): Promise<number | null> {
  const chosen = await slotToTake(store, queue, scope, key, rate, now);
  return 'opensAt' in chosen ? chosen.opensAt : null;
}
