// Where a route's turns among groups stand: the turn document per route, which also marks a route
// that grouped jobs were ever enqueued on (only such a route looks for grouped jobs in its claims),
// and the route's groups with queued deliveries, in key order, as one claim walks them.
import type { ClaimRequest, NewJob } from '@skq/core/backend';
import type { TurnDoc } from '../collections.js';
import { upsertRacing } from '../mongo-errors.js';
import type { MongoStore } from './store.js';

/** The `_id` of a route's turn document: queue + NUL + route. */
export function turnId(queue: string, route: string): string {
  return `${queue}\u0000${route}`;
}

/** A route's turn document. Reads: it, by id. Returns it, or null when no grouped job was ever enqueued on the route. */
export function readTurn(store: MongoStore, queue: string, route: string): Promise<TurnDoc | null> {
  return store.c.turns.findOne({ _id: turnId(queue, route) });
}

/**
 * Marks the routes of grouped jobs before they are stored, so that claims on them look for grouped
 * jobs from then on (a claim that read no mark takes only jobs without a group, and the next one
 * takes the grouped job). Writes: the turn document of each route not marked yet by this process,
 * inserted at the first turn if missing (an upsert). Returns nothing.
 */
export async function markGroupedRoutes(store: MongoStore, jobs: NewJob[]): Promise<void> {
  const ids = new Set(jobs.filter((j) => j.group != null).flatMap((j) => j.routes.map((route) => turnId(j.queue, route))));
  const unmarked = [...ids].filter((id) => !store.markedRoutes.has(id));
  if (unmarked.length === 0) return;
  await Promise.all(unmarked.map((_id) => upsertRacing(() => store.c.turns.updateOne({ _id }, { $setOnInsert: { grp: '' } }, { upsert: true }))));
  for (const id of unmarked) store.markedRoutes.add(id);
}

/** Saves where a route's turns stopped. Writes: its turn document (an upsert). */
export async function saveTurn(store: MongoStore, queue: string, route: string, grp: string): Promise<void> {
  await upsertRacing(() => store.c.turns.updateOne({ _id: turnId(queue, route) }, { $set: { grp } }, { upsert: true }));
}

/** The route's groups with queued deliveries, in key order, as one claim reads them: each step once. */
export class GroupKeys {
  private readonly next = new Map<string, Promise<string>>();
  private stopped = false;

  constructor(
    private readonly store: MongoStore,
    private readonly request: ClaimRequest,
  ) {}

  /** The next group after `key`, in key order; '' after the last (the turn of the jobs without a group). Reads: one step of the 'group-claim' index. */
  after(key: string): Promise<string> {
    let next = this.next.get(key);
    if (next === undefined) {
      const { queue, route } = this.request;
      next = this.store.c.deliveries.findOne({ queue, route, state: 'queued', grp: { $gt: key } }, { sort: { grp: 1 }, projection: { grp: 1 } }).then((doc) => doc?.grp ?? '');
      next.catch(() => undefined); // a failed step fails the claim where it is awaited
      this.next.set(key, next);
    }
    return next;
  }

  /** Reads the `steps` keys after `from`, one after another, without waiting for them; until {@link stop}. */
  walk(from: string, steps: number): void {
    void (async () => {
      for (let key = from, n = 0; n < steps && !this.stopped; n += 1) if ((key = await this.after(key)) === '') return;
    })().catch(() => undefined);
  }

  /** Ends a walk: the claim is over. */
  stop(): void {
    this.stopped = true;
  }
}
