import { recordNotice } from './events.js';
import type { SqliteStore } from './store.js';

// Pausing: one skq_paused row per paused route, or per paused queue under core's WHOLE_QUEUE route.
// A claim reads them inside its write transaction, so a claim that runs after a pause's write sees it.

/**
 * Pause or resume, in one write transaction. Writes: the route's pause row inserted or deleted,
 * and a `paused` or `resumed` event when that changed anything. Returns whether it did.
 */
export function setPaused(s: SqliteStore, queue: string, route: string, paused: boolean): boolean {
  const now = Date.now();
  const changed = (paused ? s.stmt.pause.run(queue, route, now) : s.stmt.unpause.run(queue, route)).changes === 1;
  if (changed) recordNotice(s, queue, paused ? 'paused' : 'resumed', null, null, route, null, now);
  return changed;
}

/** Paused routes, a plain read. Reads: the queue's pause rows. Returns their routes, sorted. */
export function pausedRoutes(s: SqliteStore, queue: string): string[] {
  return (s.stmt.pausedOf.all(queue) as { route: string }[]).map((r) => r.route);
}
