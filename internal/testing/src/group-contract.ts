import { expect, it } from 'vitest';
import { SkqError, SkunkQueue } from '@skq/core';
import { leaseOf, listJobsPage, type ClaimedDelivery, type GroupStorage, type NewJob, type StorageBackend } from '@skq/core/backend';
import { newJob, sleep, uniqueQueue } from './contract-fixtures.js';

type GroupBackend = StorageBackend & GroupStorage;

/** `count` jobs of `group` (none for null) on route 'r', each its own id. */
function groupJobs(queue: string, group: string | null, count: number, overrides: Partial<NewJob> = {}): NewJob[] {
  return Array.from({ length: count }, (_, i) => newJob(queue, { args: [group, i], ...(group !== null && { group }), ...overrides }));
}

async function enqueueAll(backend: StorageBackend, jobs: NewJob[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) await backend.enqueue(jobs.slice(i, i + 500));
}

/**
 * Groups and limits, for a store with `capabilities.groups` (the cases skip elsewhere, and one case
 * checks that such a store refuses groups at the queue). Registered inside the storage contract suite.
 */
export function groupContract(current: () => StorageBackend, open: () => Promise<StorageBackend>): void {
  const groupBackend = (skip: (note?: string) => void): GroupBackend => {
    const backend = current();
    if (!backend.capabilities.groups) skip(`the ${backend.kind} store keeps no groups`);
    return backend as GroupBackend;
  };

  it('refuses groups and limits at the queue unless the store keeps groups', async (ctx) => {
    const backend = current();
    if (backend.capabilities.groups) return ctx.skip('this store keeps groups');
    const queue = new SkunkQueue(uniqueQueue('nogroups'), { backend });
    const job = queue.job({ name: 'noop', routes: ['r'] }, async () => undefined);
    await expect(job.fireWith({ group: 'tenant-1' })).rejects.toMatchObject({ code: 'UNSUPPORTED', context: { field: 'options.group' } });
    await expect(queue.setGroupLimits('*', { concurrency: 2 })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(await queue.counts()).toEqual({});
  });

  it('stores, reads and clears group and route limits', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('limits');
    expect(await backend.getGroupLimits(queue, 'g')).toBeNull();
    await backend.setGroupLimits(queue, 'g', { concurrency: 2, rate: { max: 10, perMs: 1_000 } });
    await backend.setGroupLimits(queue, '*', { concurrency: 1 });
    await backend.setRouteLimits(queue, 'r', { rate: { max: 5, perMs: 60_000 } });
    expect(await backend.getGroupLimits(queue, 'g')).toEqual({ concurrency: 2, rate: { max: 10, perMs: 1_000 } });
    expect(await backend.getGroupLimits(queue, '*')).toEqual({ concurrency: 1 });
    expect(await backend.getRouteLimits(queue, 'r')).toEqual({ rate: { max: 5, perMs: 60_000 } });
    expect(await backend.getGroupLimits(uniqueQueue(), 'g')).toBeNull();
    await backend.setGroupLimits(queue, 'g', { rate: { max: 3, perMs: 500 } });
    expect(await backend.getGroupLimits(queue, 'g')).toEqual({ rate: { max: 3, perMs: 500 } });
    await backend.setGroupLimits(queue, 'g', null);
    await backend.setRouteLimits(queue, 'r', null);
    expect(await backend.getGroupLimits(queue, 'g')).toBeNull();
    expect(await backend.getRouteLimits(queue, 'r')).toBeNull();
    expect(await backend.getGroupLimits(queue, '*')).toEqual({ concurrency: 1 });
  });

  it('never leases more of a group than its concurrency, across racing connections, and frees a place when a job ends', async (ctx) => {
    groupBackend(ctx.skip);
    const queue = uniqueQueue('conc');
    const connections = [current(), ...(await Promise.all([open(), open(), open()]))] as GroupBackend[];
    await connections[0]!.setGroupLimits(queue, '*', { concurrency: 2 });
    await connections[0]!.setGroupLimits(queue, 'wide', { concurrency: 3 });
    const groups = ['a', 'b', 'c', 'wide'];
    await enqueueAll(connections[0]!, groups.flatMap((g) => groupJobs(queue, g, 12)));
    // The handlers' own records: a start when a claim hands a job out, an end before its completion is sent.
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    let done = 0;
    const claimer = async (backend: GroupBackend, n: number) => {
      const workerId = `w${n}`;
      while (done < groups.length * 12) {
        const { deliveries } = await backend.claim({ queue, route: 'r', workerId, limit: 4, leaseMs: 30_000 });
        if (deliveries.length === 0) {
          await sleep(5);
          continue;
        }
        await Promise.all(
          deliveries.map(async (d) => {
            const group = d.group!;
            running.set(group, (running.get(group) ?? 0) + 1);
            most.set(group, Math.max(most.get(group) ?? 0, running.get(group)!));
            await sleep(2 + Math.random() * 8);
            running.set(group, running.get(group)! - 1);
            done += 1;
            await backend.complete(queue, leaseOf(d), null);
          }),
        );
      }
    };
    // 4 connections × 5 claimers each: 20 claimers racing.
    await Promise.all(connections.flatMap((backend, c) => Array.from({ length: 5 }, (_, i) => claimer(backend, c * 5 + i))));
    // Never beyond the limit. Whether the race itself reaches a limit is timing (on a busy machine the
    // claims can fall into step so that each group runs one at a time), so reaching it is shown below.
    for (const group of ['a', 'b', 'c']) expect(most.get(group)).toBeGreaterThanOrEqual(1);
    for (const group of ['a', 'b', 'c']) expect(most.get(group)).toBeLessThanOrEqual(2);
    expect(most.get('wide')).toBeGreaterThanOrEqual(1);
    expect(most.get('wide')).toBeLessThanOrEqual(3);
    const { groups: listed } = await connections[0]!.listGroups({ queue, cursor: null, limit: 10 });
    expect(listed.filter((g) => g.queued + g.running > 0)).toEqual([]);

    // Claimed until nothing more is handed out (three empty claims in a row: a claim is allowed to come back
    // empty while work remains), every place of a group is taken, and no more; a job's end frees one.
    const claimUntilEmpty = async () => {
      const leased: ClaimedDelivery[] = [];
      for (let empty = 0; empty < 3; ) {
        const { deliveries } = await connections[1]!.claim({ queue, route: 'r', workerId: 'w-last', limit: 10, leaseMs: 30_000 });
        leased.push(...deliveries);
        empty = deliveries.length === 0 ? empty + 1 : 0;
      }
      return leased;
    };
    await enqueueAll(connections[0]!, [...groupJobs(queue, 'a', 3), ...groupJobs(queue, 'wide', 4)]);
    const leased = await claimUntilEmpty();
    const leasedOf = (group: string) => leased.filter((d) => d.group === group);
    expect([leasedOf('a').length, leasedOf('wide').length]).toEqual([2, 3]);
    await connections[2]!.complete(queue, leaseOf(leasedOf('a')[0]!), null);
    expect((await claimUntilEmpty()).map((d) => d.group)).toEqual(['a']);
  });

  it('ends every claim while racing claims empty the groups it passes, many small groups at concurrency 1', async (ctx) => {
    groupBackend(ctx.skip);
    // A claim whose turns find nothing for a whole round ends; the group where that round began may be
    // emptied by another claim meanwhile (PostgreSQL's claim once went round for ever then, about one
    // round of these in ten).
    const connections = [current(), ...(await Promise.all([open(), open()]))] as GroupBackend[];
    for (let round = 0; round < 8; round += 1) {
      const queue = uniqueQueue('emptying');
      await connections[0]!.setGroupLimits(queue, '*', { concurrency: 1 });
      const jobs = Array.from({ length: 30 }, (_, g) => groupJobs(queue, `g${String(g).padStart(2, '0')}`, 2)).flat();
      await enqueueAll(connections[0]!, jobs);
      let done = 0;
      const deadline = Date.now() + 20_000;
      const claimer = async (backend: GroupBackend, n: number) => {
        while (done < jobs.length && Date.now() < deadline) {
          const { deliveries } = await backend.claim({ queue, route: 'r', workerId: `w${n}`, limit: 4, leaseMs: 30_000 });
          if (deliveries.length === 0) await sleep(2);
          for (const d of deliveries) {
            done += 1;
            await backend.complete(queue, leaseOf(d), null);
          }
        }
      };
      await Promise.all(connections.flatMap((backend, c) => Array.from({ length: 6 }, (_, i) => claimer(backend, c * 6 + i))));
      expect({ round, done }).toEqual({ round, done: jobs.length });
    }
  }, 60_000);

  it('starts at most `max` of a group in any window of `perMs`, by the store clock', async (ctx) => {
    groupBackend(ctx.skip);
    const queue = uniqueQueue('rate');
    const connections = [current(), ...(await Promise.all([open(), open()]))] as GroupBackend[];
    await connections[0]!.setGroupLimits(queue, 'api', { rate: { max: 10, perMs: 1_000 } });
    await enqueueAll(connections[0]!, [...groupJobs(queue, 'api', 40), ...groupJobs(queue, 'free', 5)]);
    const starts: number[] = [];
    const freeStarts: number[] = [];
    const until = Date.now() + 2_600;
    await Promise.all(
      connections.map(async (backend, n) => {
        while (Date.now() < until) {
          const { deliveries } = await backend.claim({ queue, route: 'r', workerId: `w${n}`, limit: 3, leaseMs: 30_000 });
          for (const d of deliveries) {
            (d.group === 'api' ? starts : freeStarts).push(d.startedAt!);
            await backend.complete(queue, leaseOf(d), null);
          }
          if (deliveries.length === 0) await sleep(10);
        }
      }),
    );
    starts.sort((x, y) => x - y);
    // Any 11 consecutive starts span at least the window: no window of 1,000 ms holds 11.
    for (let i = 0; i + 10 < starts.length; i += 1) expect(starts[i + 10]! - starts[i]!).toBeGreaterThanOrEqual(1_000);
    // The limit let the rate through, not less: 2.6 s of claims start 21 to 30.
    expect(starts.length).toBeGreaterThanOrEqual(21);
    expect(starts.length).toBeLessThanOrEqual(30);
    expect(freeStarts).toHaveLength(5);
  });

  it('takes turns: a group with 10 jobs queued after another with 10,000 starts within the next 40 claims', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('fair');
    await enqueueAll(backend, groupJobs(queue, 'big', 10_000));
    const first = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 });
    const small = groupJobs(queue, 'small', 10);
    await backend.enqueue(small);
    const claimed: ClaimedDelivery[] = [];
    while (claimed.length < 40) claimed.push(...(await backend.claim({ queue, route: 'r', workerId: 'w', limit: 4, leaseMs: 30_000 })).deliveries);
    const smallIds = new Set(small.map((j) => j.id));
    expect(claimed.filter((d) => smallIds.has(d.jobId))).toHaveLength(10);
    expect(first.deliveries.every((d) => d.group === 'big')).toBe(true);
    // Within a group, priority then enqueue order as usual.
    const urgent = groupJobs(queue, 'small', 1, { priority: 5 })[0]!;
    await backend.enqueue([groupJobs(queue, 'small', 1)[0]!, urgent]);
    const next = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 2, leaseMs: 30_000 })).deliveries;
    expect(next.find((d) => d.group === 'small')?.jobId).toBe(urgent.id);
  });

  it('lists each queued job of groups once while claims empty groups between pages', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('list-claimed');
    // Groups of 1 to 3 jobs: claims of 3 between pages empty some groups, which then leave the turns.
    const jobs = Array.from({ length: 12 }, (_, g) => groupJobs(queue, `g${String(g).padStart(2, '0')}`, 1 + (g % 3))).flat();
    await backend.enqueue(jobs);
    const listed: string[] = [];
    const claimed: string[] = [];
    let page = await listJobsPage(backend, queue, { state: 'queued', limit: 2 });
    listed.push(...page.jobs.map((j) => j.id));
    while (page.nextCursor) {
      claimed.push(...(await backend.claim({ queue, route: 'r', workerId: 'w', limit: 3, leaseMs: 30_000 })).deliveries.map((d) => d.jobId));
      page = await listJobsPage(backend, queue, { state: 'queued', limit: 2, cursor: page.nextCursor });
      listed.push(...page.jobs.map((j) => j.id));
    }
    expect(new Set(listed).size).toBe(listed.length);
    const queuedThroughout = jobs.map((j) => j.id).filter((id) => !claimed.includes(id));
    expect(queuedThroughout.filter((id) => !listed.includes(id))).toEqual([]);
  });

  it('keeps apart routes and groups whose names join alike (route a, group b:c; route a:b, group c)', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('names');
    const [first] = groupJobs(queue, 'b:c', 1, { routes: ['a'] });
    const [second] = groupJobs(queue, 'c', 1, { routes: ['a:b'] });
    await backend.enqueue([first!, second!]);
    const onA = await backend.claim({ queue, route: 'a', workerId: 'w', limit: 5, leaseMs: 30_000 });
    const onAB = await backend.claim({ queue, route: 'a:b', workerId: 'w', limit: 5, leaseMs: 30_000 });
    expect(onA.deliveries.map((d) => d.jobId)).toEqual([first!.id]);
    expect(onAB.deliveries.map((d) => d.jobId)).toEqual([second!.id]);
  });

  it('hands out a group in priority order, then run time, then enqueue order, whatever order they came in', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('group-order');
    const base = Date.now() - 1_000;
    const at = (label: string, priority: number, runAt: number) => newJob(queue, { args: [label], group: 'g', priority, runAt, createdAt: base });
    // Enqueued one at a time: d runs before the jobs ahead of it, f at the same time as b.
    for (const job of [at('a', 0, base + 50), at('b', 0, base + 60), at('c', 5, base + 70), at('d', 0, base + 40), at('e', -5, base + 30), at('f', 0, base + 60)]) {
      await backend.enqueue([job]);
    }
    const order: unknown[] = [];
    for (let i = 0; i < 30 && order.length < 6; i += 1) {
      order.push(...(await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 30_000 })).deliveries.map((d) => d.args[0]));
    }
    expect(order).toEqual(['c', 'd', 'a', 'b', 'f', 'e']);
  });

  it("keeps a group without limits of its own to the default's, however many groups have their own", async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('defaults');
    // Keys that sort before '*', and the default set last: a store that reads a page of limits at a time must still find it.
    const own = Array.from({ length: 1_005 }, (_, i) => `!own-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < own.length; i += 50) await Promise.all(own.slice(i, i + 50).map((group) => backend.setGroupLimits(queue, group, { concurrency: 5 })));
    await backend.setGroupLimits(queue, '*', { concurrency: 1 });
    await enqueueAll(backend, [...groupJobs(queue, 'plain', 3), ...groupJobs(queue, '!own-0000', 3)]);
    const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(deliveries.filter((d) => d.group === 'plain')).toHaveLength(1);
    expect(deliveries.filter((d) => d.group === '!own-0000')).toHaveLength(3);
  });

  it('gives jobs without a group their own turn among the groups', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('mixed');
    await enqueueAll(backend, [...groupJobs(queue, null, 50), ...groupJobs(queue, 'g', 50)]);
    const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(deliveries.filter((d) => d.group === 'g')).toHaveLength(5);
    expect(deliveries.filter((d) => !d.group)).toHaveLength(5);
  });

  it('a rate-limited attempt is not charged and holds its group until its time, others run on', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('hold');
    const [first, second] = groupJobs(queue, 'api', 2, { options: { ...newJob(queue).options, attempts: 1 } });
    const other = groupJobs(queue, 'other', 1)[0]!;
    await backend.enqueue([first!, second!]);
    const [claimed] = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 30_000 })).deliveries;
    expect(claimed!.jobId).toBe(first!.id);
    const until = Date.now() + 600;
    const error = new SkqError('INVALID_STATE', 'rate limited').toJSON();
    expect(await backend.fail(queue, leaseOf(claimed!), { error, retryAt: until, rateLimited: { holdGroupUntil: until } })).toBe('retrying');
    await backend.enqueue([other]);
    const during = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 });
    expect(during.deliveries.map((d) => d.jobId)).toEqual([other.id]);
    expect(during.limited).toBe(true);
    expect(during.nextRunAt).toBeGreaterThanOrEqual(until);
    const { groups } = await backend.listGroups({ queue, cursor: null, limit: 10 });
    expect(groups.find((g) => g.group === 'api')).toMatchObject({ queued: 2, running: 0, limitedUntil: until });
    while (Date.now() < until) await sleep(until - Date.now());
    const after = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 })).deliveries;
    expect(after.map((d) => d.jobId).sort()).toEqual([first!.id, second!.id].sort());
    const retried = after.find((d) => d.jobId === first!.id)!;
    // Claimed twice, with one attempt to its name: the rate-limited one was not charged.
    expect(retried).toMatchObject({ attempts: 2, maxAttempts: 2 });
  });

  it('frees the place of an expired lease when recovery takes it back', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('expire');
    await backend.setGroupLimits(queue, 'g', { concurrency: 1 });
    await backend.enqueue(groupJobs(queue, 'g', 2));
    const first = (await backend.claim({ queue, route: 'r', workerId: 'dead', limit: 5, leaseMs: 50 })).deliveries;
    expect(first).toHaveLength(1);
    const blocked = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 });
    expect(blocked.deliveries).toHaveLength(0);
    expect(blocked.limited).toBe(true);
    await sleep(80);
    expect(await backend.recoverExpired(queue)).toBe(1);
    const after = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 });
    expect(after.deliveries).toHaveLength(1);
  });

  it('limits a route’s rate over grouped and ungrouped jobs; a change of limits applies to the next claim', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('route');
    await backend.setRouteLimits(queue, 'r', { rate: { max: 3, perMs: 60_000 } });
    await enqueueAll(backend, [...groupJobs(queue, null, 5), ...groupJobs(queue, 'g', 5)]);
    const first = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(first.deliveries).toHaveLength(3);
    expect(first.limited).toBe(true);
    expect((await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 })).deliveries).toHaveLength(0);
    await backend.setRouteLimits(queue, 'r', null);
    await backend.setGroupLimits(queue, 'g', { concurrency: 0 });
    const rest = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(rest.deliveries.every((d) => !d.group)).toBe(true);
    expect(rest.limited).toBe(true);
  });

  it('starts as many as a route’s rate lets through in one claim over many groups', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('route-many');
    await backend.setRouteLimits(queue, 'r', { rate: { max: 12, perMs: 60_000 } });
    // One job in each of 20 groups: a claim's turns choose one of each, and the route's window takes 12.
    await enqueueAll(backend, Array.from({ length: 20 }, (_, g) => groupJobs(queue, `g${String(g).padStart(2, '0')}`, 1)).flat());
    const first = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 20, leaseMs: 30_000 });
    expect(first.deliveries).toHaveLength(12);
    expect(first.limited).toBe(true);
  });

  it('lists queued jobs of groups with the others, a page at a time, and each once', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('list-queued');
    const jobs = [
      ...groupJobs(queue, 'a', 3),
      ...groupJobs(queue, 'b', 2, { priority: 5 }),
      ...groupJobs(queue, null, 2),
      ...groupJobs(queue, 'd', 1),
      ...groupJobs(queue, 'e', 1),
      ...groupJobs(queue, 'f', 1),
      ...groupJobs(queue, 'c', 1, { runAt: Date.now() + 60_000 }),
    ];
    await backend.enqueue(jobs);
    const listed = async (state: 'queued' | 'scheduled' | 'running', limit: number): Promise<string[]> => {
      const ids: string[] = [];
      let page = await listJobsPage(backend, queue, { state, limit });
      ids.push(...page.jobs.map((j) => j.id));
      while (page.nextCursor) {
        page = await listJobsPage(backend, queue, { state, limit, cursor: page.nextCursor });
        ids.push(...page.jobs.map((j) => j.id));
      }
      return ids;
    };
    const due = jobs.slice(0, 10).map((j) => j.id);
    for (const limit of [1, 2, 3, 50]) {
      const ids = await listed('queued', limit);
      expect([...ids].sort()).toEqual([...due].sort());
    }
    expect(await listed('scheduled', 50)).toEqual([jobs[10]!.id]);
    // Claimed until 3 are running: a claim may come back short on a store with faults.
    const running: string[] = [];
    for (let i = 0; i < 20 && running.length < 3; i += 1) {
      running.push(...(await backend.claim({ queue, route: 'r', workerId: 'w', limit: 3 - running.length, leaseMs: 30_000 })).deliveries.map((d) => d.jobId));
    }
    expect(running).toHaveLength(3);
    expect([...(await listed('running', 50))].sort()).toEqual([...running].sort());
    expect([...(await listed('queued', 2))].sort()).toEqual(due.filter((id) => !running.includes(id)).sort());
  });

  it('lists groups in key order, a page at a time, with their counts and own limits', async (ctx) => {
    const backend = groupBackend(ctx.skip);
    const queue = uniqueQueue('list');
    const [a] = groupJobs(queue, 'a', 1);
    await backend.enqueue([...groupJobs(queue, 'b', 2), a!, ...groupJobs(queue, 'd', 1)]);
    await backend.setGroupLimits(queue, 'c', { concurrency: 4 });
    await backend.setGroupLimits(queue, '*', { concurrency: 1 });
    await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 30_000 });
    const first = await backend.listGroups({ queue, cursor: null, limit: 2 });
    expect(first.groups).toEqual([
      { group: 'a', queued: 0, running: 1, limitedUntil: null, limits: null },
      { group: 'b', queued: 1, running: 1, limitedUntil: null, limits: null },
    ]);
    const second = await backend.listGroups({ queue, cursor: first.cursor, limit: 2 });
    expect(second.groups.map((g) => [g.group, g.limits])).toEqual([['c', { concurrency: 4 }], ['d', null]]);
    expect((await backend.listGroups({ queue, cursor: second.cursor, limit: 2 })).groups).toEqual([]);
    expect(await backend.getJob(queue, a!.id)).toMatchObject({ group: 'a' });
  });
}
