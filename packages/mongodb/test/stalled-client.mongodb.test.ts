import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkqError, type JobEvent } from '@skq/core';
import { MongoBackend } from '@skq/mongodb';
import { eventually, missingMongoServer, mongoServerName, newJob, startMongoServer, startStallingProxy, uniqueQueue, type MongoTestServer, type StallingProxy } from '@skq/testing';

// A server restart can leave the driver's client failing every server selection for good (issue 21,
// item 13): its monitor waits on a check that never calls back. The proxy reproduces that on cue:
// it cuts the connections, then holds every new one with a reply that never ends, then lets new
// connections through again while the held ones stay held.
const kind = 'mongo-java-server';
const missing = missingMongoServer(kind);
/** The backend's connectTimeoutMs, which is also its server-selection timeout. */
const CONNECT_MS = 1_500;
/** What the README promises: 3 failed selections of the stuck client, then a fresh client; plus slack for a busy machine. */
const SERVED_AGAIN_WITHIN_MS = 3 * CONNECT_MS + 3_000;

/** The driver error's name, unwrapped from the bulk write error `insertMany` throws. */
const driverName = (err: unknown): string => {
  const cause = (err as { cause?: { name?: string; errorResponse?: { name?: string } } }).cause;
  return cause?.errorResponse?.name ?? cause?.name ?? '';
};

describe.skipIf(missing)(`a MongoDB client that stops recovering, on ${mongoServerName(kind)}${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let server: MongoTestServer;
  let proxy: StallingProxy;
  beforeAll(async () => {
    server = await startMongoServer(kind);
    proxy = await startStallingProxy(/^mongodb:\/\/([^/?]+)/.exec(server.url)![1]!);
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it(`is replaced, so the queue serves calls again within ${SERVED_AGAIN_WITHIN_MS} ms of the server being reachable, and its feed follows`, async () => {
    const warnings: string[] = [];
    const url = proxy.urlFor(server.url).replace('/?', `/skq_stalled_${process.pid}?`);
    const backend = await MongoBackend.connect({ url, connectTimeoutMs: CONNECT_MS, socketTimeoutMs: 5_000, logger: { info: () => {}, warn: (_meta, line) => warnings.push(line) } });
    const queue = uniqueQueue('stalled');
    const events: JobEvent[] = [];
    let stopped = false;
    const unsubscribe = await backend.subscribe(queue, (e) => events.push(e), ['enqueued']);
    try {
      const before = newJob(queue);
      await backend.enqueue([before]);
      await eventually(() => events.some((e) => e.jobId === before.id), 'the feed to deliver an event before the stall', 10_000);

      proxy.stall();
      // Producers keep calling through the stall and after it: each call settles (none hangs), either
      // acknowledged or refused with BACKEND_UNAVAILABLE.
      const acknowledged: string[] = [];
      const refusals: unknown[] = [];
      let reachableAt = Infinity;
      let servedAgainAt = Infinity;
      const produce = async () => {
        while (servedAgainAt === Infinity && !stopped) {
          const job = newJob(queue);
          const startedAt = Date.now();
          try {
            await backend.enqueue([job]);
            acknowledged.push(job.id);
            if (startedAt >= reachableAt) servedAgainAt = Math.min(servedAgainAt, Date.now());
          } catch (err) {
            refusals.push(err);
            if (Date.now() - reachableAt > SERVED_AGAIN_WITHIN_MS + 5 * CONNECT_MS) throw new Error(`calls still fail ${Date.now() - reachableAt} ms after the server became reachable: ${(err as Error).message}`);
          }
        }
      };
      const producers = Promise.all([produce(), produce(), produce()]);
      // The client must be stuck before the server comes back: calls fail server selection, not just a cut connection.
      const selectionFailures = () => refusals.filter((err) => /Server selection timed out|MongoServerSelectionError/.test(`${(err as Error).message} ${driverName(err)}`)).length;
      // Long enough for a replacement to be tried while the server is still silent: that client must not be the end of it.
      await eventually(() => selectionFailures() >= 9 && warnings.some((w) => w.includes('connecting a new client')), 'calls to fail server selection during the stall', 30_000);
      proxy.resume();
      reachableAt = Date.now();
      await producers;

      console.log(`stalled mongodb client: ${refusals.length} calls refused, served again ${servedAgainAt - reachableAt} ms after the server became reachable`);
      expect(servedAgainAt - reachableAt).toBeLessThanOrEqual(SERVED_AGAIN_WITHIN_MS);
      for (const err of refusals) expect(isSkqError(err, 'BACKEND_UNAVAILABLE'), String(err)).toBe(true);
      expect(warnings.some((w) => w.includes('replaced the client'))).toBe(true);
      // Nothing acknowledged is missing, and the new client serves reads and claims.
      for (const id of acknowledged) expect(await backend.getJob(queue, id), id).not.toBeNull();
      const claimed = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1_000, leaseMs: 30_000 });
      expect(claimed.deliveries.length).toBeGreaterThanOrEqual(acknowledged.length + 1);
      // The subscription made on the old client goes on: it hears of a job enqueued now.
      const after = newJob(queue);
      await backend.enqueue([after]);
      await eventually(() => events.some((e) => e.jobId === after.id), "the subscription to hear of a job enqueued on the new client", 15_000);
    } finally {
      stopped = true;
      await unsubscribe();
      await backend.close();
    }
  }, 120_000);
});
