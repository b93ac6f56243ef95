import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SkunkQueue, isSkqError } from '@skq/core';
import { WorkerPool } from '@skq/worker';
import { RedisBackend } from '@skq/redis';
import { mapRedisError } from '../src/redis-errors.js';
import { eventually, fireThroughRestart, missingServer, newJob, sleep, startRedis, startRedisCluster, uniqueQueue, type RedisServer } from '@skq/testing';

const missing = missingServer('redis-server', 'apt-get install redis-server');

describe.skipIf(missing)(`redis reliability ${missing ?? ''}`, () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ persistent: true });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) rmSync(server.dir, { recursive: true, force: true });
  });

  it('completes every acknowledged job when Redis restarts under load, and refuses enqueues while it is down', async () => {
    const queue = new SkunkQueue(uniqueQueue('restart'), { backend: server.url });
    const ran = new Set<string>();
    const job = queue.job({ name: 'record', routes: ['r'] }, async (n: number) => {
      ran.add(String(n));
      return n;
    });
    const pool = new WorkerPool({ queue, routes: ['r'], concurrency: 20, leaseMs: 2_000, handleSignals: false, pollIntervalMs: 100 });
    await pool.start();
    // Four paced producers, so that the restart lands in the middle of the firing; they go on
    // until a second after Redis is back.
    const { acknowledged, refused, fired, ackedWhenBack } = await fireThroughRestart({
      fire: (n: number) => job.fire(n),
      restart: () => server.restart(500),
      restartAfter: 400,
      producers: 4,
      paceMs: 2,
      fireAfterBackMs: 1_000,
      timeoutMs: 20_000,
    });
    for (const err of refused) expect(isSkqError(err, 'BACKEND_UNAVAILABLE')).toBe(true);
    // Each acknowledged job by its own state: the succeeded count also holds jobs whose enqueue was
    // refused to the producer after Redis had stored them, so it can reach the number acknowledged early.
    await eventually(async () => (await Promise.all(acknowledged.map((h) => h.state()))).every((state) => state === 'succeeded'), 'every acknowledged job to succeed', 30_000);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(acknowledged.map((h) => h.id)).size).toBe(acknowledged.length);
    expect(acknowledged.length + refused.length).toBe(fired);
    expect(acknowledged.length).toBeGreaterThan(ackedWhenBack);
    await pool.close();
    await queue.close();
    console.log(`restart test: ${acknowledged.length} acknowledged and completed, ${refused.length} refused with BACKEND_UNAVAILABLE, ${ran.size} distinct runs`);
  }, 90_000);

  it('loads its functions again when Redis has lost them, as after a restart without persistence', async () => {
    const queue = uniqueQueue('functions');
    const backend = await RedisBackend.connect(server.url);
    const admin = new Redis(server.url);
    try {
      const [first] = await backend.enqueue([newJob(queue)]);
      await admin.function('FLUSH');
      expect(await admin.function('LIST')).toEqual([]);
      const [second] = await backend.enqueue([newJob(queue)]);
      expect((await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 5_000 })).deliveries.map((d) => d.jobId)).toEqual([first!.id, second!.id]);
      expect(await admin.function('LIST')).toHaveLength(1);
    } finally {
      admin.disconnect();
      await backend.close();
    }
  });

  it('rejects with BACKEND_UNAVAILABLE while Redis is down and recovers after', async () => {
    const backend = await RedisBackend.connect(server.url);
    const queue = new SkunkQueue(uniqueQueue('down'), { backend });
    const job = queue.job({ name: 'x', routes: ['r'] }, async () => 1);
    await server.stop();
    const started = Date.now();
    await expect(job.fire()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2_000);
    await server.restart();
    await eventually(async () => (await job.fire().then(() => true, () => false)), 'enqueue to work again', 10_000);
    await backend.close();
  });

  it('serves a producer that started before its Redis, once Redis is up', async () => {
    await server.stop();
    const queue = new SkunkQueue(uniqueQueue('late'), { backend: `${server.url}?connectTimeoutMs=500` });
    const job = queue.job({ name: 'x', routes: ['r'] }, async () => 1);
    await expect(job.fire()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await server.restart();
    const handle = await job.fire();
    expect((await queue.getRecord(handle.id))?.state).toBe('queued');
    await queue.close();
  });

  it('has a worker pool whose start finds Redis down try again until it is up, then run jobs; one stopped meanwhile ends', async () => {
    await server.stop();
    const queue = new SkunkQueue(uniqueQueue('late-pool'), { backend: `${server.url}?connectTimeoutMs=300` });
    const job = queue.job({ name: 'x', routes: ['r'] }, async (n: number) => n * 2);
    const warnings: string[] = [];
    const logger = { info() {}, warn: (_meta: unknown, message: string) => warnings.push(message) };
    const failedStarts = () => warnings.filter((w) => w.startsWith('could not start: the backend is not answering')).length;
    // Stopped while it waits to try again: its listen ends, and it never starts.
    const stopped = new WorkerPool({ queue, routes: ['r'], handleSignals: false, jobs: [job], logger });
    let stoppedStarted = false;
    const stoppedListening = stopped.listen({ onStarted: () => (stoppedStarted = true) });
    await eventually(() => failedStarts() >= 1, 'a failed start', 10_000);
    await stopped.close();
    await stoppedListening;
    expect(stoppedStarted).toBe(false);
    // Left to wait: it starts once Redis answers.
    const pool = new WorkerPool({ queue, routes: ['r'], handleSignals: false, jobs: [job], logger });
    let started = false;
    const listening = pool.listen({ onStarted: () => (started = true) });
    const before = failedStarts();
    await eventually(() => failedStarts() >= before + 2, 'two more failed starts', 10_000);
    expect(started).toBe(false);
    await server.restart();
    await eventually(() => started, 'the pool started', 15_000);
    const handle = await job.fire(21);
    expect(await handle.result({ timeoutMs: 10_000 })).toBe(42);
    await pool.close();
    await listening;
    await queue.close();
  });

  it('fails to connect with BACKEND_UNAVAILABLE', async () => {
    await expect(RedisBackend.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 1_000 })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });

  it('trims ended jobs by count, as configured', async () => {
    const backend = await RedisBackend.connect(`${server.url}?removeOnComplete=2`);
    const queue = new SkunkQueue(uniqueQueue('trim'), { backend });
    // A few ms per job, so that finish times differ: retention keeps the newest by finish time.
    const job = queue.job({ name: 'x', routes: ['r'] }, async (n: number) => {
      await sleep(5);
      return n;
    });
    const pool = new WorkerPool({ queue, routes: ['r'], handleSignals: false });
    await pool.start();
    const handles = await queue.pushMany([1, 2, 3, 4, 5].map((n) => job.with(n)));
    await eventually(async () => (await queue.list()).jobs.length === 2 && (await queue.counts()).r?.succeeded === 2, 'two kept jobs', 10_000);
    expect((await queue.list()).jobs.map((r) => r.args[0]).sort()).toEqual([4, 5]);
    await expect(queue.get(handles[0]!.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await pool.close();
    await backend.close();
  });
});

describe.skipIf(missing)(`redis cluster slots ${missing ?? ''}`, () => {
  it('keeps every key of a queue on one node, and spreads queues over nodes', async () => {
    const cluster = await startRedisCluster(3);
    try {
      const backend = await RedisBackend.connect(cluster.url);
      const names = Array.from({ length: 12 }, (_, i) => `slot-${i}`);
      for (const name of names) {
        const queue = new SkunkQueue(name, { backend });
        const job = queue.job({ name: 'x', routes: ['a', 'b'] }, async () => 1);
        await job.fire();
        await queue.pushMany([job.with(), job.with()], { at: { minutes: 5 } });
      }
      const perNode = await Promise.all(
        cluster.nodes.map(async (node) => {
          const client = new Redis(node.port, '127.0.0.1');
          const keys = await client.keys('skq:*');
          client.disconnect();
          // The directory of queue names (skq:queues) is the one key outside every queue.
          return new Set(keys.filter((key) => key !== 'skq:queues').map((key) => /\{([^}]+)\}/.exec(key)![1]));
        }),
      );
      for (const name of names) expect(perNode.filter((queues) => queues.has(name))).toHaveLength(1);
      expect(perNode.filter((queues) => queues.size > 0).length).toBeGreaterThan(1);
      await backend.close();
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});

describe('redis errors', () => {
  it('calls a cluster whose redirections ran out while slots moved unavailable, as a refused connection, and a script error an error', () => {
    // ioredis's own message when a command keeps meeting MOVED during a failover (seen in a chaos run on Redis Cluster).
    const moved = mapRedisError(new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 9953 127.0.0.1:42559'), 'enqueue', { queue: 'q' });
    expect(moved).toMatchObject({ code: 'BACKEND_UNAVAILABLE', context: { queue: 'q' } });
    expect(moved.message).toBe('redis enqueue failed: Too many Cluster redirections. Last error: ReplyError: MOVED 9953 127.0.0.1:42559');
    expect(mapRedisError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'claim').code).toBe('BACKEND_UNAVAILABLE');
    expect(mapRedisError(new Error('ERR user_function:12: Script attempted to access nonexistent global variable'), 'claim').code).toBe('BACKEND_ERROR');
  });
});
