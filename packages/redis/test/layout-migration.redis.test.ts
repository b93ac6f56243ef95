import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { missingServer, newJob, startRedis, uniqueQueue, type RedisServer } from '@skq/testing';
import { RedisBackend } from '@skq/redis';
import { listJobsPage, matchingJobs } from '@skq/core/backend';

const missing = missingServer('redis-server', 'apt-get install redis-server');

/** Layout 1's ready-set score and member, as its scripts wrote them. */
const score = (priority: number, runAt: number) => (1000 - priority) * 2 ** 41 + (runAt - 1577836800000);
const member = (seq: number, did: string) => `${String(seq).padStart(16, '0')}:${did}`;

/**
 * Puts route 'r''s groups back as layout 2 kept them: each group's due deliveries in its set under
 * '<route>:<group>' (its list's at `runAt`, numbered from 1 in order; a set of other priorities renamed),
 * its place '1', no flags, no index of groups; the queue's seq at `seq` and its layout '2'.
 */
async function backToLayoutTwo(client: Redis, p: string, groups: { name: string; runAt: number }[], seq: number): Promise<void> {
  const read = client.pipeline();
  for (const g of groups) read.lrange(`${p}:gl:r|${g.name}`, 0, -1).exists(`${p}:gq:r|${g.name}`);
  const found = (await read.exec())!.map(([, value]) => value);
  const write = client.pipeline();
  let n = 0;
  groups.forEach((g, i) => {
    for (const did of found[2 * i] as string[]) write.zadd(`${p}:gq:r:${g.name}`, score(0, g.runAt), member(++n, did));
    write.del(`${p}:gl:r|${g.name}`);
    if (found[2 * i + 1] === 1) write.rename(`${p}:gq:r|${g.name}`, `${p}:gq:r:${g.name}`);
    write.hset(`${p}:gin:r`, g.name, '1');
  });
  write.del(`${p}:gz:r`, `${p}:gkeys:r`);
  write.set(`${p}:seq`, seq);
  write.set(`${p}:layout`, '2');
  await write.exec();
}

/**
 * Writes a queue the way the layout-1 scripts left it: a hash per job holding delivery 0, a hash per
 * further delivery, due deliveries in one sorted set per route, ended jobs in sorted sets by end time.
 */
async function writeLayoutOne(client: Redis, queue: string, now: number, bulk: number): Promise<void> {
  const p = `skq:{${queue}}`;
  const m = client.multi();
  let seq = 0;
  const job = (id: string, fields: Record<string, string | number>, deliveries: ({ route: string; state: string } & Record<string, string | number>)[]) => {
    const created = Number(fields.created);
    m.zadd(`${p}:jobs`, created, id);
    deliveries.forEach((d, n) => {
      const did = `${id}.${n}`;
      const all = { attempts: 0, priority: 0, runAt: created, max: 3, seq: ++seq, lease: '', ...d };
      m.hset(n === 0 ? `${p}:job:${id}` : `${p}:d:${did}`, n === 0 ? { ...fields, nd: deliveries.length, open: deliveries.length, ...all } : all);
      m.hincrby(`${p}:counts`, `${all.route}|${all.state}`, 1);
      if (all.state === 'queued' && Number(all.runAt) > now) m.zadd(`${p}:delayed:${all.route}`, all.runAt, member(all.seq, did));
      else if (all.state === 'queued') m.zadd(`${p}:ready:${all.route}`, score(Number(all.priority), Number(all.runAt)), member(all.seq, did));
    });
  };
  for (let i = 0; i < bulk; i += 1) {
    job(`bulk-${String(i).padStart(5, '0')}`, { name: 'bulk', args: `[${i}]`, routes: 'r', created: now - 100_000 + i }, [{ route: 'r', state: 'queued' }]);
  }
  job('urgent', { name: 'urgent', args: '[]', routes: 'r', created: now - 1 }, [{ route: 'r', state: 'queued', priority: 5 }]);
  job('later', { name: 'later', args: '[]', routes: 'r', created: now - 1 }, [{ route: 'r', state: 'queued', runAt: now + 3_600_000 }]);
  job('fanned', { name: 'fanned', args: '["x"]', routes: 'r,s', created: now - 200_000 }, [
    { route: 'r', state: 'succeeded', attempts: 1, finished: now - 150_000, result: '"done"' },
    { route: 's', state: 'queued' },
  ]);
  job('broke', { name: 'broke', args: '[]', routes: 'r', created: now - 300_000, bad: 1 }, [
    { route: 'r', state: 'failed', attempts: 3, finished: now - 250_000, error: '{"name":"Error","message":"boom"}' },
  ]);
  job('fine', { name: 'fine', args: '[]', routes: 'r', created: now - 400_000 }, [{ route: 'r', state: 'succeeded', attempts: 1, finished: now - 350_000, result: '42' }]);
  // A broadcast nobody listened to: a job without deliveries, only in the index by creation.
  m.hset(`${p}:job:unheard`, { name: 'unheard', args: '[]', routes: 'r', created: now - 500_000, nd: 0, open: 0, type: 'broadcast', bad: 1, empty: 'cancelled', priority: 0, max: 1 });
  m.zadd(`${p}:jobs`, now - 500_000, 'unheard');
  m.zadd(`${p}:done:failed`, now - 250_000, 'broke');
  m.zadd(`${p}:done:succeeded`, now - 350_000, 'fine');
  m.set(`${p}:seq`, seq);
  await m.exec();
}

describe.skipIf(missing)(`redis layout migration ${missing ?? ''}`, () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('moves a queue stored by the layout-1 scripts to the current layout with nothing lost', async () => {
    const queue = uniqueQueue('legacy');
    const client = new Redis(server.url);
    const now = Date.now();
    // More jobs than one migration batch, so that the move takes several calls.
    const bulk = 1_234;
    await writeLayoutOne(client, queue, now, bulk);
    const backend = await RedisBackend.connect(server.url); // keeps every ended job by default
    try {
      const failed = await backend.getJob(queue, 'broke');
      expect(failed).toMatchObject({ state: 'failed', name: 'broke', args: [] });
      expect(failed?.deliveries[0]).toMatchObject({ state: 'failed', attempts: 3, error: { message: 'boom' } });
      expect(await backend.getJob(queue, 'fine')).toMatchObject({ state: 'succeeded', deliveries: [{ result: 42 }] });
      const fanned = await backend.getJob(queue, 'fanned');
      expect(fanned?.deliveries.map((d) => [d.route, d.state])).toEqual([
        ['r', 'succeeded'],
        ['s', 'queued'],
      ]);
      expect(fanned?.deliveries[0]?.result).toBe('done');
      expect((await backend.getJob(queue, 'later'))?.state).toBe('scheduled');
      const counts = await backend.countByState(queue);
      expect(counts.r).toMatchObject({ queued: bulk + 1, scheduled: 1, succeeded: 2, failed: 1 });
      expect(counts.s).toMatchObject({ queued: 1 });

      // Due deliveries come out in the old order: priority first, then run time.
      const names: string[] = [];
      const args: unknown[] = [];
      for (;;) {
        const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 500, leaseMs: 60_000 });
        if (deliveries.length === 0) break;
        for (const d of deliveries) {
          names.push(d.name);
          if (d.name === 'bulk') args.push(d.args[0]);
          await backend.complete(queue, { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null);
        }
      }
      expect(names[0]).toBe('urgent');
      expect(args).toEqual(Array.from({ length: bulk }, (_, i) => i));
      const [s] = (await backend.claim({ queue, route: 's', workerId: 'w', limit: 10, leaseMs: 60_000 })).deliveries;
      expect(s).toMatchObject({ name: 'fanned', args: ['x'] });

      // Ended jobs keep their places in the listing and can be run again.
      expect(await backend.retryJob(queue, 'broke', { runAt: Date.now(), attempts: 1 })).toBe(1);
      const [again] = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 60_000 })).deliveries;
      expect(again?.name).toBe('broke');
      const states: string[] = [];
      for await (const batch of matchingJobs(backend, queue, {})) states.push(...batch.map((j) => j.state));
      // Running: broke (again) and fanned (its delivery to s); scheduled: later; cancelled: unheard; succeeded: the rest.
      expect(states).toEqual(['running', 'running', 'scheduled', 'cancelled', ...Array<string>(bulk + 2).fill('succeeded')]);
      expect(await backend.getJob(queue, 'unheard')).toMatchObject({ state: 'cancelled', deliveries: [] });

      // Nothing of the old layout is left.
      const leftovers = await client.keys(`skq:{${queue}}:*`);
      expect(leftovers.filter((k) => /:(job|d):|:done:|:ready:/.test(k))).toEqual([]);
      expect(await client.get(`skq:{${queue}}:layout`)).toBe('3');
    } finally {
      await backend.close();
      client.disconnect();
    }
  });

  it('moves the groups of layout 2 to their own keys and lists, keeping their order, and lists their jobs', async () => {
    const queue = uniqueQueue('old-groups');
    const p = `skq:{${queue}}`;
    const client = new Redis(server.url);
    const writer = await RedisBackend.connect(server.url);
    let reader: RedisBackend | undefined;
    try {
      const at = Date.now() - 1_000;
      // Stored by this code, then put back as layout 2 kept them (a group name may hold ':').
      const old = [
        newJob(queue, { group: 'a:x', runAt: at, createdAt: at }),
        newJob(queue, { group: 'a:x', runAt: at, createdAt: at }),
        newJob(queue, { group: 'b', priority: 5 }),
      ];
      await writer.enqueue(old);
      await backToLayoutTwo(client, p, [{ name: 'a:x', runAt: at }, { name: 'b', runAt: at }], 100);

      // A process of this code moves the queue before its first call: a job at the same run time as the
      // old ones goes after them.
      reader = await RedisBackend.connect(server.url);
      const fresh = [newJob(queue, { group: 'a:x', runAt: at, createdAt: at }), newJob(queue, { group: 'a:x' })];
      await reader.enqueue(fresh);
      expect(await client.get(`${p}:layout`)).toBe('3');
      expect(await client.exists(`${p}:gq:r:a:x`, `${p}:gq:r:b`)).toBe(0);
      expect(await client.hget(`${p}:gz:r`, 'a:x')).toBe('1');
      const all = [...old, ...fresh].map((j) => j.id).sort();
      expect((await listJobsPage(reader, queue, { state: 'queued', limit: 50 })).jobs.map((j) => j.id).sort()).toEqual(all);
      const claimed: string[] = [];
      for (let i = 0; i < 10 && claimed.length < 5; i += 1) {
        claimed.push(...(await reader.claim({ queue, route: 'r', workerId: 'w', limit: 5, leaseMs: 30_000 })).deliveries.map((d) => d.jobId));
      }
      expect(claimed.filter((id) => id !== old[2]!.id)).toEqual([old[0]!.id, old[1]!.id, fresh[0]!.id, fresh[1]!.id]);
      expect(claimed).toContain(old[2]!.id);
    } finally {
      await writer.close();
      await reader?.close();
      client.disconnect();
    }
  });

  it('moves a route of 1,200 groups of layout 2 over several calls, and lists every job', async () => {
    const queue = uniqueQueue('many-groups');
    const p = `skq:{${queue}}`;
    const client = new Redis(server.url);
    const writer = await RedisBackend.connect(server.url);
    let reader: RedisBackend | undefined;
    try {
      const jobs = Array.from({ length: 1_200 }, (_, g) => newJob(queue, { group: `tenant:${g}` }));
      for (let i = 0; i < jobs.length; i += 400) await writer.enqueue(jobs.slice(i, i + 400));
      await backToLayoutTwo(client, p, jobs.map((job) => ({ name: job.group!, runAt: job.runAt })), 10_000);

      reader = await RedisBackend.connect(server.url);
      const listed: string[] = [];
      let page = await listJobsPage(reader, queue, { state: 'queued', limit: 500 });
      listed.push(...page.jobs.map((j) => j.id));
      while (page.nextCursor) {
        page = await listJobsPage(reader, queue, { state: 'queued', limit: 500, cursor: page.nextCursor });
        listed.push(...page.jobs.map((j) => j.id));
      }
      expect(await client.get(`${p}:layout`)).toBe('3');
      expect(await client.exists(`${p}:migrating`)).toBe(0);
      expect(await client.zcard(`${p}:gkeys:r`)).toBe(1_200);
      expect(listed.sort()).toEqual(jobs.map((j) => j.id).sort());
      const { deliveries } = await reader.claim({ queue, route: 'r', workerId: 'w', limit: 1_200, leaseMs: 30_000 });
      expect(deliveries).toHaveLength(1_200);
    } finally {
      await writer.close();
      await reader?.close();
      client.disconnect();
    }
  });

  it('marks a queue with nothing stored as current in one call, and a second process finds it so', async () => {
    const queue = uniqueQueue('fresh');
    const client = new Redis(server.url);
    const one = await RedisBackend.connect(server.url);
    const two = await RedisBackend.connect(server.url);
    try {
      await one.enqueue([newJob(queue)]);
      expect(await client.get(`skq:{${queue}}:layout`)).toBe('3');
      expect((await two.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 1_000 })).deliveries).toHaveLength(1);
    } finally {
      await one.close();
      await two.close();
      client.disconnect();
    }
  });
});
