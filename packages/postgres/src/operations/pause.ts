import { run, type PgTx } from '../store.js';

// Pausing: one paused row per paused route, or per paused queue under core's WHOLE_QUEUE route. A
// claim reads them in its transaction, so a claim that begins after a pause committed sees it.

/** Pause or resume, in one transaction. Writes: the route's pause row inserted or deleted; a `paused` or `resumed` event when that changed anything. Returns whether it did. */
export async function setPaused(t: PgTx, queue: string, route: string, paused: boolean): Promise<boolean> {
  const now = Date.now();
  const changed = (await run(t, paused ? 'pause' : 'unpause', paused ? [queue, route, now] : [queue, route])).rowCount === 1;
  if (changed) t.events.push({ type: paused ? 'paused' : 'resumed', queue, jobId: null, deliveryId: null, route, workerId: null, at: now });
  return changed;
}

/** Paused routes. Reads: the queue's pause rows. Returns their routes, sorted. */
export async function pausedRoutes(t: PgTx, queue: string): Promise<string[]> {
  return (await run<{ route: string }>(t, 'pausedOf', [queue])).rows.map((r) => r.route);
}
