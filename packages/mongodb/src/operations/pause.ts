import { WHOLE_QUEUE } from '@skq/core/backend';
import type { MongoStore } from './store.js';

/** The `_id` of a pause document: queue + NUL + route ('*' pauses the queue). */
function pauseKey(queue: string, route: string): string {
  return `${queue}\u0000${route}`;
}

/**
 * Pause or resume a route. Writes: the route's pause document (an upsert that inserts only, or a
 * delete), and a `paused` or `resumed` event when that changed anything. Returns whether it did:
 * false when the route already was so.
 */
export async function setPaused(store: MongoStore, queue: string, route: string, paused: boolean): Promise<boolean> {
  const { c } = store;
  const _id = pauseKey(queue, route);
  let changed: boolean;
  if (paused) {
    const result = await c.paused.updateOne({ _id }, { $setOnInsert: { queue, route, since: Date.now() } }, { upsert: true });
    changed = result.upsertedCount === 1;
  } else {
    changed = (await c.paused.deleteOne({ _id })).deletedCount === 1;
  }
  if (changed) store.record([store.event(queue, paused ? 'paused' : 'resumed', null, null, route, null, Date.now())]);
  return changed;
}

/** Whether a claim on `route` must wait. Reads: the pause documents of the route and of the whole queue, one indexed read by id. */
export async function isPaused(store: MongoStore, queue: string, route: string): Promise<boolean> {
  return (await store.c.paused.findOne({ _id: { $in: [pauseKey(queue, route), pauseKey(queue, WHOLE_QUEUE)] } }, { projection: { _id: 1 } })) !== null;
}

/** Paused routes. Reads: the queue's pause documents. Returns their routes, sorted ('*' for the whole queue). */
export async function pausedRoutes(store: MongoStore, queue: string): Promise<string[]> {
  return (await store.c.paused.find({ queue }).toArray()).map((p) => p.route).sort();
}
