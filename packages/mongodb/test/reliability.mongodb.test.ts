import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue, isSkqError } from '@skq/core';
import { WorkerPool } from '@skq/worker';
import { MongoBackend } from '@skq/mongodb';
import { eventually, fireThroughRestart, missingMongoServer, mongoServerName, startMongoServer, uniqueQueue, type MongoTestServer } from '@skq/testing';

// The restart test of the Redis issue, on both test servers, each keeping its data on disk
// (mongo-java-server in an H2 file, FerretDB in SQLite) so that a restart loses nothing stored.
for (const kind of ['mongo-java-server', 'ferretdb'] as const) {
  const missing = missingMongoServer(kind);
  describe.skipIf(missing)(`mongodb reliability on ${mongoServerName(kind)}${kind === 'mongo-java-server' ? ' with an H2 file' : ''}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    let server: MongoTestServer;
    beforeAll(async () => {
      server = await startMongoServer(kind, { durable: true });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });
    const url = (name: string) => server.url.replace('/?', `/skq_${name}_${process.pid}?`);

    it('completes every acknowledged job when the server restarts under load', async () => {
      const backend = await MongoBackend.connect({ url: url('restart'), logger: false, connectTimeoutMs: 5_000, socketTimeoutMs: 5_000 });
      const queue = new SkunkQueue(uniqueQueue('restart'), { backend });
      const job = queue.job({ name: 'record', routes: ['r'] }, async (n: number) => n);
      // FerretDB v1 gets a lighter load. Its findAndModify and updates read, then write the whole
      // document, with no isolation between them: two claimers can take one job, and a lease renewal
      // can write back a job a completion just ended (it then runs again). So it gets one claimer (races
      // are not run on it), and a load it drains in time: each of its queries reads the whole collection.
      const light = kind === 'ferretdb';
      const pool = new WorkerPool({ queue, routes: ['r'], concurrency: light ? 1 : 10, leaseMs: 3_000, handleSignals: false, pollIntervalMs: 100 });
      await pool.start();
      const { acknowledged, refused, fired, ackedWhenBack, startedAt, restartAt, backAt } = await fireThroughRestart({
        fire: (n: number) => job.fire(n),
        restart: () => server.restart(500),
        restartAfter: light ? 60 : 150,
        producers: light ? 2 : 4,
        paceMs: light ? 20 : 5,
        // A restarted server answers again only some time after its port opens (FerretDB reopens its SQLite
        // files; mongo-java-server its H2 file, slowly on a busy machine), so the producers go on until enough
        // fires after the restart were acknowledged (20 s at most), not for a fixed time.
        fireAfterBackMs: 20_000,
        acknowledgedAfterBack: light ? 60 : 150,
      });
      for (const err of refused) expect(isSkqError(err, 'BACKEND_UNAVAILABLE'), String(err) + JSON.stringify((err as { context?: unknown }).context)).toBe(true);
      const producedAt = Date.now();
      let counts: unknown = null;
      // A substitute server can wedge itself after a restart (FerretDB once reset every connection for
      // 90 s). If skunq's calls fail for 15 s, a fresh client tells whose fault it is: if it cannot
      // ping either, the server is restarted once more and the test goes on (the data is on disk);
      // if it can, skunq's client is stuck, and the wait below fails the test.
      let failingSince: number | null = null;
      let serverRevived = false;
      // The wait fails when no job succeeds for 30 s: a slow server that keeps draining is given the time.
      let succeeded = -1;
      let progressAt = Date.now();
      let stalled = false;
      await eventually(
        async () => {
          try {
            const now = (await queue.counts()).r;
            failingSince = null;
            counts = now;
            if ((now?.succeeded ?? 0) > succeeded) [succeeded, progressAt] = [now?.succeeded ?? 0, Date.now()];
            stalled = Date.now() - progressAt > 30_000;
            return stalled || (now?.succeeded ?? 0) >= acknowledged.length;
          } catch (err) {
            failingSince ??= Date.now();
            if (!serverRevived && Date.now() - failingSince > 15_000 && !(await serverAnswers(server.url))) {
              serverRevived = true;
              console.log(`mongodb restart test on ${server.name}: the server stopped answering any client; restarting it. Its last output:\n${server.recentOutput()}`);
              await server.restart(0);
            }
            throw err;
          }
        },
        `every acknowledged job to succeed (${acknowledged.length}; the last counts are in the next line)`,
        150_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nlast counts: ${JSON.stringify(counts)}\nthe server's last output:\n${server.recentOutput()}`);
      });
      if (stalled) throw new Error(`no acknowledged job succeeded for 30 s; the last counts: ${JSON.stringify(counts)}\nthe server's last output:\n${server.recentOutput()}`);
      const drainedAt = Date.now();
      for (const handle of acknowledged) expect(await handle.state()).toBe('succeeded');
      expect(new Set(acknowledged.map((h) => h.id)).size).toBe(acknowledged.length);
      expect(acknowledged.length + refused.length).toBe(fired);
      expect(acknowledged.length).toBeGreaterThan(ackedWhenBack);
      await pool.close();
      await queue.close();
      await backend.close();
      console.log(
        `mongodb restart test on ${server.name}: ${acknowledged.length} acknowledged and completed (${acknowledged.length - ackedWhenBack} after the restart), ` +
          `${refused.length} refused with BACKEND_UNAVAILABLE; load ${restartAt - startedAt} ms, down and back ${backAt - restartAt} ms, ` +
          `producing until ${producedAt - backAt} ms after, all done ${drainedAt - producedAt} ms later`,
      );
    }, 240_000);

    it('fails to connect with BACKEND_UNAVAILABLE, and rejects calls on a closed backend', async () => {
      await expect(MongoBackend.connect({ url: 'mongodb://127.0.0.1:1/?directConnection=true', connectTimeoutMs: 500 })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      const backend = await MongoBackend.connect({ url: url('closed'), logger: false });
      await backend.close();
      await expect(backend.listWorkers('q')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    });

    it('finishes an enqueue whose writer stopped after the job header', async () => {
      const backend = await MongoBackend.connect({ url: url('header'), logger: false });
      const queue = uniqueQueue('header');
      // What a writer that died midway leaves behind: the header with the deliveries it promised.
      await backend.db.collection('skq_jobs').insertOne({
        _id: 'half-written' as never, queue, name: 'x', args: '[]', routes: ['a', 'b'], type: 'direct', priority: 0, createdAt: Date.now() - 10_000,
        runAt: Date.now() - 10_000, enq: 1, options: JSON.stringify({ attempts: 1, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 0, jitter: 0 }, timeoutMs: null }),
        dedupeKey: null, emptyState: null, pending: [{ route: 'a', targetWorker: null }, { route: 'b', targetWorker: null }], pendingSince: Date.now() - 10_000,
      });
      expect((await backend.getJob(queue, 'half-written'))?.state).toBe('queued');
      await backend.recoverExpired(queue);
      const record = await backend.getJob(queue, 'half-written');
      expect(record?.deliveries.map((d) => [d.route, d.state])).toEqual([['a', 'queued'], ['b', 'queued']]);
      expect((await backend.claim({ queue, route: 'b', workerId: 'w', limit: 5, leaseMs: 1_000 })).deliveries).toHaveLength(1);
      await backend.close();
    });
  });
}

describe('mongodb options', () => {
  it('parses skunq options from the URL and refuses bad ones with a typed error', async () => {
    const { parseMongoUrl } = await import('@skq/mongodb');
    expect(parseMongoUrl('mongodb://h:1/jobs?replicaSet=rs0&skqWakeups=poll&skqPollIntervalMs=200')).toEqual({ url: 'mongodb://h:1/jobs?replicaSet=rs0', wakeups: 'poll', pollIntervalMs: 200 });
    await expect(MongoBackend.connect('mongodb://h:1/?skqWakeups=sometimes')).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'wakeups' } });
    await expect(MongoBackend.connect({ url: 'redis://h:1' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'url' } });
    await expect(MongoBackend.connect({ url: 'mongodb://h:1', bogus: 1 } as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

/** Whether a fresh client (not skunq's) gets an answer to a ping within 3 s. */
async function serverAnswers(url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 3_000, connectTimeoutMS: 3_000, socketTimeoutMS: 3_000 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}
