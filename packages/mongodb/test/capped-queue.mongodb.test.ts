import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { CappedQueue, type CappedJob } from '@skq/mongodb';
import { MONGO_SERVER_FEATURES, eventually, missingMongoServer, mongoServerName, sleep, startMongoServer, uniqueQueue, type MongoTestServer } from '@skq/testing';

for (const kind of ['ferretdb', 'mongo-java-server', 'mongodb'] as const) {
  const missing = missingMongoServer(kind);
  describe.skipIf(missing)(`CappedQueue on ${mongoServerName(kind)}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    let server: MongoTestServer;
    let client: MongoClient;
    let db: Db;
    beforeAll(async () => {
      server = await startMongoServer(kind);
      client = await MongoClient.connect(server.url);
      db = client.db(`skq_capped_${process.pid}`);
    }, 60_000);
    afterAll(async () => {
      await db?.dropDatabase().catch(() => {});
      await client?.close();
      await server?.stop();
    });

    const { cappedCollections, atomicUpdates } = MONGO_SERVER_FEATURES[kind];
    if (!cappedCollections) {
      it('says clearly that the server has no capped collections', async () => {
        const queue = new CappedQueue(db, { name: uniqueQueue('capped') });
        expect(await queue.valid()).toBe(false);
        await expect(queue.pub({ message: 'x' })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('capped') });
      });
      return;
    }

    it('refuses bad options and a collection that is not capped', async () => {
      expect(() => new CappedQueue(db, { sizeBytes: 10 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'sizeBytes' } }));
      expect(() => new CappedQueue({} as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'db' } }));
      const plain = uniqueQueue('plain');
      await db.collection(plain).insertOne({ x: 1 });
      const queue = new CappedQueue(db, { name: plain });
      expect(await queue.valid()).toBe(false);
      await expect(queue.pub(1)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    });

    it('publishes pymjq-shaped jobs and hands them out oldest first with next()', async () => {
      const name = uniqueQueue('jobqueue');
      const queue = new CappedQueue<{ message: string }>(db, { name, sizeBytes: 64 * 1024 });
      expect(await queue.valid()).toBe(true);
      const [info] = await db.listCollections({ name }).toArray();
      expect((info as { options?: { capped?: boolean } }).options?.capped).toBe(true);
      expect(await queue.pub({ message: 'hello world!' })).toBe(true);
      await queue.pub({ message: 'hello again!' });
      const stored = await db.collection(name).find({}).toArray();
      expect(stored[0]).toMatchObject({ status: 'waiting', data: { message: 'hello world!' }, ts: { created: expect.any(Date), started: expect.any(Date), done: expect.any(Date) } });
      const first = await queue.next();
      expect(first).toMatchObject({ status: 'working', data: { message: 'hello world!' } });
      expect((await db.collection(name).findOne({ _id: first!._id }))?.status).toBe('working');
      await queue.done(first!);
      const after = await db.collection(name).findOne({ _id: first!._id });
      expect(after).toMatchObject({ status: 'done' });
      expect((after!.ts as CappedJob['ts']).done.getTime()).toBeGreaterThanOrEqual((after!.ts as CappedJob['ts']).started.getTime());
      expect((await queue.next())?.data.message).toBe('hello again!');
      expect(await queue.next()).toBeNull();
    });

    it('takes jobs a Python pymjq producer wrote', async () => {
      const name = uniqueQueue('python');
      const queue = new CappedQueue(db, { name });
      await queue.valid();
      const now = new Date();
      await db.collection(name).insertOne({ ts: { created: now, started: now, done: now }, status: 'waiting', data: { from: 'python' } });
      expect((await queue.next())?.data).toEqual({ from: 'python' });
    });

    it('waits with a tailable cursor in for await, marking each job working and then done', async () => {
      const name = uniqueQueue('tail');
      const queue = new CappedQueue<number>(db, { name, awaitMs: 200 });
      await queue.pub(0);
      const seen: number[] = [];
      const statusDuringBody: string[] = [];
      const consumer = (async () => {
        for await (const job of queue) {
          seen.push(job.data);
          statusDuringBody.push(String((await db.collection(name).findOne({ _id: job._id }))?.status));
          if (seen.length === 4) break;
        }
      })();
      await eventually(() => seen.length === 1, 'the job that waited before the loop');
      await sleep(300);
      for (const n of [1, 2, 3]) await queue.pub(n);
      await consumer;
      expect(seen).toEqual([0, 1, 2, 3]);
      expect(statusDuringBody).toEqual(['working', 'working', 'working', 'working']);
      const statuses = (await db.collection(name).find({}).sort({ $natural: 1 }).toArray()).map((d) => d.status);
      // The loop broke in the fourth job's body: pymjq leaves that one working.
      expect(statuses).toEqual(['done', 'done', 'done', 'working']);
    });

    it.skipIf(!atomicUpdates)(`gives each job to one of two competing consumers${atomicUpdates ? '' : " (skipped: this server's conditional updates are not atomic)"}`, async () => {
      const name = uniqueQueue('compete');
      const queue = new CappedQueue<number>(db, { name });
      for (let n = 0; n < 40; n += 1) await queue.pub(n);
      const taken: number[] = [];
      const consume = async () => {
        for (let job = await queue.next(); job; job = await queue.next()) {
          taken.push(job.data);
          await queue.done(job);
        }
      };
      await Promise.all([consume(), consume()]);
      expect(taken.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    });
  });
}
