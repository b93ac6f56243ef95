import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_OPTIONS, leaseOf, type ClaimedDelivery, type NewJob } from '@skq/core/backend';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster, prefixRange } from '@skq/foundationdb/simulator';
import { newJob, sleep, uniqueQueue } from '@skq/testing';

// What the shared contract does not reach on FoundationDB: claims by turns and rate-limited fails
// replayed after commit_unknown_result, slots when a group's concurrency changes under running work,
// every way out of running giving its slot back, and the sweep of what groups leave behind.

function setUp(): { cluster: SimulatedCluster; backend: FdbBackend; queue: string } {
  const cluster = new SimulatedCluster();
  return { cluster, backend: FdbBackend.onDatabase(cluster.open()), queue: uniqueQueue('fdb-groups') };
}

const grouped = (queue: string, group: string, count: number, overrides: Partial<NewJob> = {}) => Array.from({ length: count }, (_, i) => newJob(queue, { args: [i], group, ...overrides }));

async function claim(backend: FdbBackend, queue: string, limit = 10, route = 'r', leaseMs = 60_000): Promise<{ deliveries: ClaimedDelivery[]; nextRunAt: number | null; limited?: boolean }> {
  return backend.claim({ queue, route, workerId: 'w', limit, leaseMs });
}

async function running(backend: FdbBackend, queue: string, group: string): Promise<number | undefined> {
  return (await backend.listGroups({ queue, cursor: null, limit: 100 })).groups.find((g) => g.group === group)?.running;
}

describe('FoundationDB groups', () => {
  it('a claim by turns whose commit applied but answered commit_unknown_result is replayed: its slots and counts are taken once', async () => {
    const { cluster, backend, queue } = setUp();
    await backend.setGroupLimits(queue, 'g', { concurrency: 2 });
    await backend.enqueue(grouped(queue, 'g', 3));
    cluster.failCommit(0, 1021, { applied: true });
    const first = await claim(backend, queue);
    expect(first.deliveries).toHaveLength(2);
    expect((await backend.listGroups({ queue, cursor: null, limit: 10 })).groups).toEqual([{ group: 'g', queued: 1, running: 2, limitedUntil: null, limits: { concurrency: 2 } }]);
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
    await backend.complete(queue, leaseOf(first.deliveries[0]!), null);
    expect((await claim(backend, queue)).deliveries).toHaveLength(1);
  });

  it('a rate-limited fail replayed after commit_unknown_result grows maxAttempts once and holds the group', async () => {
    const { cluster, backend, queue } = setUp();
    await backend.enqueue(grouped(queue, 'g', 1, { options: { ...DEFAULT_RUN_OPTIONS, attempts: 1 } }));
    const [d] = (await claim(backend, queue)).deliveries;
    const until = Date.now() + 60_000;
    cluster.failCommit(0, 1021, { applied: true });
    expect(await backend.fail(queue, leaseOf(d!), { error: { message: 'slow down' }, retryAt: until, rateLimited: { holdGroupUntil: until } })).toBe('retrying');
    expect((await backend.getJob(queue, d!.jobId))!.deliveries[0]).toMatchObject({ attempts: 1, maxAttempts: 2, state: 'scheduled' });
    expect((await backend.listGroups({ queue, cursor: null, limit: 10 })).groups).toEqual([{ group: 'g', queued: 1, running: 0, limitedUntil: until, limits: null }]);
    await backend.enqueue(grouped(queue, 'g', 1));
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true, nextRunAt: until });
  });

  it('a claim that runs out of turns among held groups asks for no claim at once; one that took some does', async () => {
    const { backend, queue } = setUp();
    await backend.setGroupLimits(queue, '*', { concurrency: 1 });
    // More groups than a claim of 1 has turns (its limit + 500): one job of each runs, one waits.
    const groups = Array.from({ length: 520 }, (_, g) => `g${String(g).padStart(3, '0')}`);
    await backend.enqueue(groups.flatMap((g) => grouped(queue, g, 2)));
    const started: ClaimedDelivery[] = [];
    while (started.length < groups.length) started.push(...(await claim(backend, queue, 100)).deliveries);
    expect(started).toHaveLength(groups.length);
    // Every group is held at its concurrency: the claim ends out of turns with nothing to wait for but an end.
    expect(await claim(backend, queue, 1)).toEqual({ deliveries: [], nextRunAt: null, limited: true });
    // An end frees one group: a claim of 2 takes its job, runs out of turns, and asks to go on at once.
    await backend.complete(queue, leaseOf(started.find((d) => d.group === 'g000')!), null);
    const next = await claim(backend, queue, 2);
    expect(next.deliveries.map((d) => d.group)).toEqual(['g000']);
    expect(next.nextRunAt).not.toBeNull();
    expect(next.nextRunAt!).toBeLessThanOrEqual(Date.now());
  });

  it('a concurrency lowered under running work starts nothing until fewer than the new limit run', async () => {
    const { backend, queue } = setUp();
    await backend.setGroupLimits(queue, 'g', { concurrency: 3 });
    await backend.enqueue(grouped(queue, 'g', 5));
    const first = (await claim(backend, queue)).deliveries;
    expect(first).toHaveLength(3);
    await backend.setGroupLimits(queue, 'g', { concurrency: 1 });
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
    await backend.complete(queue, leaseOf(first[0]!), null);
    await backend.complete(queue, leaseOf(first[1]!), null);
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
    await backend.complete(queue, leaseOf(first[2]!), null);
    expect((await claim(backend, queue)).deliveries).toHaveLength(1);
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
  });

  it('a concurrency set on a group that ran without one counts what already runs', async () => {
    const { backend, queue } = setUp();
    await backend.enqueue(grouped(queue, 'g', 5));
    const first = (await claim(backend, queue, 3)).deliveries;
    expect(first).toHaveLength(3);
    await backend.setGroupLimits(queue, '*', { concurrency: 2 });
    expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
    await backend.complete(queue, leaseOf(first[0]!), null);
    await backend.complete(queue, leaseOf(first[1]!), null);
    expect((await claim(backend, queue)).deliveries).toHaveLength(1);
    expect(await running(backend, queue, 'g')).toBe(2);
  });

  it('a group’s concurrency holds across the routes of its jobs', async () => {
    const { backend, queue } = setUp();
    await backend.setGroupLimits(queue, 'g', { concurrency: 1 });
    await backend.enqueue(grouped(queue, 'g', 2, { routes: ['r1', 'r2'] }));
    expect((await claim(backend, queue, 10, 'r1')).deliveries).toHaveLength(1);
    expect(await claim(backend, queue, 10, 'r2')).toMatchObject({ deliveries: [], limited: true });
  });

  it('every way out of running gives the slot back: complete, a retry, a final failure, a cancel, recovery', async () => {
    const { backend, queue } = setUp();
    await backend.setGroupLimits(queue, 'g', { concurrency: 1 });
    await backend.enqueue(grouped(queue, 'g', 6, { options: { ...DEFAULT_RUN_OPTIONS, attempts: 5 } }));
    const next = async (leaseMs = 60_000) => {
      const { deliveries } = await claim(backend, queue, 10, 'r', leaseMs);
      expect(deliveries).toHaveLength(1);
      expect(await claim(backend, queue)).toMatchObject({ deliveries: [], limited: true });
      return deliveries[0]!;
    };
    await backend.complete(queue, leaseOf(await next()), null);
    expect(await backend.fail(queue, leaseOf(await next()), { error: { message: 'again' }, retryAt: Date.now() + 60_000 })).toBe('retrying');
    expect(await backend.fail(queue, leaseOf(await next()), { error: { message: 'no' } })).toBe('failed');
    const cancelled = await next();
    await backend.cancel(queue, cancelled.jobId);
    expect(await backend.fail(queue, leaseOf(cancelled), { error: { message: 'stopped' }, cancelled: true })).toBe('cancelled');
    await next(20);
    await sleep(40);
    expect(await backend.recoverExpired(queue)).toBe(1);
    await next();
    expect(await running(backend, queue, 'g')).toBe(1);
  });

  it('recovery sweeps holds that ended and the counters of groups with nothing left', async () => {
    const { cluster, backend, queue } = setUp();
    await backend.enqueue(grouped(queue, 'g', 1));
    const [d] = (await claim(backend, queue)).deliveries;
    const until = Date.now() + 30;
    await backend.fail(queue, leaseOf(d!), { error: { message: 'slow down' }, retryAt: until, rateLimited: { holdGroupUntil: until } });
    await sleep(40);
    const [again] = (await claim(backend, queue)).deliveries;
    await backend.complete(queue, leaseOf(again!), null);
    await backend.recoverExpired(queue);
    const left = await cluster.open().transact(async (tr) => {
      const keys = await Promise.all(['gh', 'gc', 'gs'].map((part) => tr.getRange(...prefixRange(['skq', queue, part]))));
      return keys.flat().length;
    });
    expect(left).toBe(0);
    expect((await backend.listGroups({ queue, cursor: null, limit: 10 })).groups).toEqual([]);
  });
});
