import { pack, packVersionstamped, prefixRange, type TuplePart } from '../kv/tuple.js';

/**
 * Where a queue's data lives: every key starts with the tuple (prefix, queue), so a queue is one
 * contiguous range. The layout, with what each key holds:
 *
 * | key | value |
 * |---|---|
 * | `j, jobId` | the job: name, arguments, routes, options, delivery ids, its end |
 * | `d, deliveryId` | the delivery: state, attempts, lease, and its result, error and progress while small |
 * | `do, deliveryId, field` | a delivery's `result`, `error` or `progress` once over 1 KB of JSON: each its own value, so together they fit |
 * | `r, route, target, -priority, runAt, seq, deliveryId` | empty: a due delivery waiting to be claimed |
 * | `gr, route, group, -priority, runAt, seq, deliveryId` | empty: a due delivery of a group waiting to be claimed |
 * | `t, route, target, runAt, -priority, seq, deliveryId` | a delivery waiting for its run time: empty, or its group |
 * | `a, route, worker` | empty: broadcast deliveries were queued for this worker (failed once it is gone) |
 * | `l, leaseDeadline, deliveryId` | empty: a running delivery, by the version its lease ends at |
 * | `c, route, state` | a counter of deliveries in a state (atomic add) |
 * | `gc, group, queued or running` / `gcsweep` | a group's deliveries in the state, on every route (atomic add) / where the next sweep of those at zero goes on |
 * | `gs, group, slot` | the running delivery holding one of the group's slots (below its concurrency, or random far above without one) |
 * | `turn, route` | the group the route's last claim by turns served (`''`: the jobs without a group) |
 * | `gh, group` | the instant (epoch ms, unsigned 64-bit little-endian, atomic max) before which the group starts nothing |
 * | `lim, g or r, group or route` | a group's limits (`*`: the default) or a route's, as set |
 * | `rsn, g or r, key` / `rs, g or r, key, n` | how many starts a rate window has counted / the cluster version of the nth (the last `max` kept) |
 * | `list, createdAt, jobId` | empty: the listing order |
 * | `dedupe, key` | the pending job holding a dedupe key |
 * | `ended, kind, endedAt, jobId` / `endedN, kind` | ended jobs by kind, for retention, and their count |
 * | `tp, minute, route, c or f` | completed and failed counts (atomic add) |
 * | `log, jobId, versionstamp` | one log line |
 * | `ev, versionstamp` / `evbump` | one event / a counter every event bumps, which subscribers watch |
 * | `paused, route` | empty: a paused route (`*`: the queue) |
 * | `w, workerId` | a worker's registration, with the version it expires at |
 * | `s, scheduleId` | a schedule |
 * | `cr, versionstamp` | a call record |
 * | `tx, minute, nonce` | what a transaction returned, so its retry after commit_unknown_result returns it again |
 */
export class QueueKeys {
  private readonly base: TuplePart[];

  constructor(prefix: string, readonly queue: string) {
    this.base = [prefix, queue];
  }

  key(...parts: TuplePart[]): Buffer {
    return pack([...this.base, ...parts]);
  }

  /** Every key under `parts`. */
  range(...parts: TuplePart[]): [Buffer, Buffer] {
    return prefixRange([...this.base, ...parts]);
  }

  /** Keys under `parts` from `from` (inclusive) to `to` (exclusive), each a further tuple part. */
  between(parts: TuplePart[], from: TuplePart[], to: TuplePart[] | null): [Buffer, Buffer] {
    const begin = pack([...this.base, ...parts, ...from]);
    return [begin, to === null ? this.range(...parts)[1] : pack([...this.base, ...parts, ...to])];
  }

  versionstamped(parts: TuplePart[], userVersion: number): { key: Buffer; offset: number } {
    return packVersionstamped([...this.base, ...parts], userVersion);
  }

  job(jobId: string): Buffer {
    return this.key('j', jobId);
  }

  delivery(deliveryId: string): Buffer {
    return this.key('d', deliveryId);
  }

  deliveryField(deliveryId: string, field: string): Buffer {
    return this.key('do', deliveryId, field);
  }

  counter(route: string, state: string): Buffer {
    return this.key('c', route, state);
  }

  groupCounter(group: string, state: 'queued' | 'running'): Buffer {
    return this.key('gc', group, state);
  }

  wakeup(): Buffer {
    return this.key('evbump');
  }
}

/** The directory of queue names, outside every queue: `(prefix, '', 'queues', name)`. */
export function directoryKey(prefix: string, queue: string): Buffer {
  return pack([prefix, null, 'queues', queue]);
}

export function directoryRange(prefix: string): [Buffer, Buffer] {
  return prefixRange([prefix, null, 'queues']);
}
