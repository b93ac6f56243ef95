import type { JobEventType } from '@skq/core';
import { run, type PgTx } from '../store.js';

/**
 * Says that a subscriber hears `types` of `queue` for `forMs` from now, one statement, its own
 * transaction (core's `EventInterest` calls it before a subscription starts and every 10 s after).
 * Writes: each type's `listeners` row, to the server's now + `forMs` unless it ends later already.
 * Returns nothing. The busy statements (enqueue, claim, completion) publish a type only while its row
 * is ahead of the server's clock; the rarer events of other steps always go out.
 */
export async function hearEvents(t: PgTx, queue: string, types: readonly JobEventType[], forMs: number): Promise<void> {
  await run(t, 'hear', [queue, types, forMs]);
}
