import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SkunkQueue } from '@skq/core';
import { eventually, newJob, missingServer, recordEvents, startRedis, uniqueQueue, type RedisServer } from '@skq/testing';
import { RedisBackend } from '@skq/redis';
import { WorkerPool } from '@skq/worker';

const missing = missingServer('redis-server', 'apt-get install redis-server');

describe.skipIf(missing)(`redis waiting claims ${missing ?? ''}`, () => {
  let server: RedisServer;
  let backend: RedisBackend;
  let raw: Redis;
  beforeAll(async () => {
    server = await startRedis();
    backend = await RedisBackend.connect(server.url);
    raw = new Redis(server.port, '127.0.0.1');
  });
  afterAll(async () => {
    raw?.disconnect();
    await backend?.close();
    await server?.stop();
  });

  /** Until the worker's claim has parked it on route 'r' (scripts/hand-off.ts). */
  const parked = (queue: string, workerId: string) =>
    eventually(async () => (await raw.lrange(`skq:{${queue}}:parked:r`, 0, -1)).some((entry) => entry.startsWith(`${workerId}|`)), 'the worker parked');
  const request = (queue: string, workerId: string, signal?: AbortSignal) => ({ queue, route: 'r', workerId, limit: 10, leaseMs: 30_000, waitMs: 20_000, signal });

  it('hands the job enqueued to the parked worker: one delivery, its event naming the worker, no parking left', async () => {
    const queue = uniqueQueue('handoff');
    const { events, stop } = await recordEvents(backend, queue);
    try {
      const claim = backend.claim(request(queue, 'w1'));
      await parked(queue, 'w1');
      const [first, second] = [newJob(queue), newJob(queue)];
      await backend.enqueue([first!]);
      const result = await claim;
      expect(result.waited).toBe(true);
      expect(result.deliveries.map((d) => d.jobId)).toEqual([first!.id]);
      // One delivery a parking: the next job waits for a claim.
      await backend.enqueue([second!]);
      expect((await backend.getJob(queue, second!.id))!.deliveries[0]!.state).toBe('queued');
      expect(await raw.exists(`skq:{${queue}}:parked:r`, `skq:{${queue}}:handoff:w1`)).toBe(0);
      await eventually(() => events.filter((e) => e.type === 'enqueued').length === 2, 'both enqueued events');
      expect(events.filter((e) => e.type === 'enqueued').map((e) => e.workerId)).toEqual(['w1', null]);
    } finally {
      await stop();
    }
  });

  it('leaves the worker parked when an enqueue resends a stored id, and hands it the next new job', async () => {
    const queue = uniqueQueue('handoff-resent');
    const [stored, next] = [newJob(queue), newJob(queue)];
    await backend.enqueue([stored!]);
    await backend.claim({ ...request(queue, 'w9'), waitMs: undefined });
    const claim = backend.claim(request(queue, 'w9'));
    await parked(queue, 'w9');
    // The resent id is answered as stored; the parking it would have taken stays (else the wait runs its 20 s
    // and ends with nothing, the next job left queued).
    expect(await backend.enqueue([stored!])).toEqual([{ id: stored!.id, deduped: false, deliveries: 1 }]);
    expect((await backend.getJob(queue, stored!.id))!.deliveries[0]!.state).toBe('running');
    await parked(queue, 'w9');
    await backend.enqueue([next!]);
    const result = await claim;
    expect(result.deliveries.map((d) => d.jobId)).toEqual([next!.id]);
  }, 40_000);

  it('hands over what a claim would take first: a batch with a job of higher priority after one of priority 0', async () => {
    const queue = uniqueQueue('handoff-order');
    const claim = backend.claim(request(queue, 'w5'));
    await parked(queue, 'w5');
    const [plain, urgent, delayed] = [newJob(queue), newJob(queue, { priority: 5 }), newJob(queue, { runAt: Date.now() + 60_000 })];
    await backend.enqueue([delayed!, plain!, urgent!]);
    const result = await claim;
    expect(result.deliveries.map((d) => d.jobId)).toEqual([urgent!.id]);
    expect((await backend.getJob(queue, plain!.id))!.deliveries[0]!.state).toBe('queued');
    const next = await backend.claim({ ...request(queue, 'w5'), waitMs: 0 });
    expect(next.deliveries.map((d) => d.jobId)).toEqual([plain!.id]);
  });

  it('hands nothing over on a paused route, and nothing ahead of a job already waiting', async () => {
    const queue = uniqueQueue('handoff-held');
    const waitingJob = newJob(queue);
    await backend.enqueue([waitingJob]);
    // A parking left over from a worker (as if it parked before that job came): the job waiting goes first.
    await raw.rpush(`skq:{${queue}}:parked:r`, `w6|30000|${Date.now() + 60_000}`);
    const later = newJob(queue);
    await backend.enqueue([later]);
    expect((await backend.getJob(queue, waitingJob.id))!.deliveries[0]).toMatchObject({ state: 'running', workerId: 'w6' });
    expect((await backend.getJob(queue, later.id))!.deliveries[0]!.state).toBe('queued');
    const paused = uniqueQueue('handoff-paused');
    await backend.setPaused(paused, 'r', true);
    await raw.rpush(`skq:{${paused}}:parked:r`, `w7|30000|${Date.now() + 60_000}`);
    const job = newJob(paused);
    await backend.enqueue([job]);
    expect((await backend.getJob(paused, job.id))!.deliveries[0]!.state).toBe('queued');
    expect(await raw.llen(`skq:{${paused}}:parked:r`)).toBe(1);
  });

  it('gives a job handed over as its wait is called off to that wait exactly once', async () => {
    for (let i = 0; i < 20; i += 1) {
      const queue = uniqueQueue('handoff-abort');
      const controller = new AbortController();
      const claim = backend.claim(request(queue, 'w2', controller.signal));
      await parked(queue, 'w2');
      const job = newJob(queue);
      // The BLPOP or end_wait takes it, whichever comes first: the claim answers it either way.
      const enqueued = backend.enqueue([job]);
      controller.abort();
      await enqueued;
      const result = await claim;
      const mine = result.deliveries.map((d) => d.jobId);
      if (mine.length === 0) {
        // end_wait came first: the job was never handed over, and waits for a claim.
        expect((await backend.getJob(queue, job.id))!.deliveries[0]!.state).toBe('queued');
      } else {
        expect(mine).toEqual([job.id]);
        expect((await backend.getJob(queue, job.id))!.deliveries[0]).toMatchObject({ state: 'running', workerId: 'w2' });
      }
      expect(await raw.exists(`skq:{${queue}}:parked:r`)).toBe(0);
    }
  });

  it("answers what was handed to a wait that had lost its connection with the worker's next claim", async () => {
    const queue = uniqueQueue('handoff-lost');
    // A parking whose wait is gone (its connection dropped before the job came).
    await raw.rpush(`skq:{${queue}}:parked:r`, `w3|30000|${Date.now() + 60_000}`);
    const job = newJob(queue);
    await backend.enqueue([job]);
    expect((await backend.getJob(queue, job.id))!.deliveries[0]).toMatchObject({ state: 'running', workerId: 'w3' });
    const again = await backend.claim({ ...request(queue, 'w3'), waitMs: 50 });
    expect(again.deliveries.map((d) => d.jobId)).toEqual([job.id]);
    expect(again.deliveries[0]!.attempts).toBe(1);
  });

  it("has a worker pool wait in a claim as it starts and once its backlog is drained, needing no wake-up event for the next job", async () => {
    const name = uniqueQueue('handoff-pool');
    const queue = new SkunkQueue(name, { backend });
    const ran: number[] = [];
    const job = queue.job({ name: 'note', routes: ['r'] }, async (n: number) => void ran.push(n));
    // A poll interval longer than the test: only a waiting claim (or an event) can start the jobs in time. The
    // lease too, so that no wait ends at its time (a quarter of the lease) while the test enqueues.
    const pool = new WorkerPool({ queue, routes: ['r'], concurrency: 2, handleSignals: false, pollIntervalMs: 600_000, leaseMs: 600_000, logger: false });
    const workerParked = () =>
      eventually(async () => (await raw.lrange(`skq:{${name}}:parked:r`, 0, -1)).length === 1, 'the pool waiting in a claim on route r');
    try {
      await pool.start();
      await workerParked();
      // Handed to the waiting claim by the enqueue itself: running before the enqueue has answered.
      const handed = newJob(name, { name: 'note', args: [0] });
      await backend.enqueue([handed]);
      expect((await backend.getJob(name, handed.id))!.deliveries[0]!.state).not.toBe('queued');
      // A backlog, claimed without waiting; once it is drained, the pool waits in a claim again.
      await queue.pushMany(Array.from({ length: 40 }, (_, i) => job.with(i + 1)));
      await eventually(() => ran.length === 41, 'the backlog to run');
      await workerParked();
      const next = newJob(name, { name: 'note', args: [99] });
      await backend.enqueue([next]);
      expect((await backend.getJob(name, next.id))!.deliveries[0]!.state).not.toBe('queued');
      await eventually(() => ran.includes(99), 'the job after the backlog to run');
    } finally {
      await pool.close();
    }
  });

  it('passes over a parking whose deadline has passed (its worker died waiting)', async () => {
    const queue = uniqueQueue('handoff-stale');
    await raw.rpush(`skq:{${queue}}:parked:r`, `w4|30000|${Date.now() - 1}`);
    const job = newJob(queue);
    await backend.enqueue([job]);
    expect((await backend.getJob(queue, job.id))!.deliveries[0]!.state).toBe('queued');
    expect(await raw.exists(`skq:{${queue}}:parked:r`)).toBe(0);
  });
});
