import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { SkunkQueue } from '@skq/core';
import { MongoBackend, TriggerRunner, anyOf, defineTrigger, exists, insert, remove, update, type DatabaseChange, type Trigger } from '@skq/mongodb';
import { MONGO_SERVER_FEATURES, eventually, missingMongoServer, mongoServerName, sleep, uniqueQueue, startMongoServer, type MongoTestServer } from '@skq/testing';

describe('trigger definitions', () => {
  it('refuses what is not a predicate, filter or action, with a typed error', () => {
    expect(() => defineTrigger({} as never, () => {})).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'predicate' } }));
    expect(() => insert('x' as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'filter' } }));
    expect(() => insert({}, { collection: '' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => defineTrigger(insert(), 42 as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'action' } }));
    expect(() => defineTrigger(insert(), () => {}, { fields: 'a' as never })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => anyOf()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('matches kinds, values, exists() and or-combinations', () => {
    const change = (kind: DatabaseChange['kind'], document: Record<string, unknown>, collection = 'c'): DatabaseChange => ({ kind, collection, document, documentKey: { _id: document._id } });
    expect(insert({ _id: 1 }).matches(change('insert', { _id: 1, a: 2 }))).toBe(true);
    expect(insert({ _id: 1 }).matches(change('insert', { _id: 2 }))).toBe(false);
    expect(insert({ _id: 1 }).matches(change('update', { _id: 1 }))).toBe(false);
    expect(insert({ foo: exists() }).matches(change('insert', { _id: 3, foo: null }))).toBe(true);
    expect(insert({ foo: exists() }).matches(change('insert', { _id: 3 }))).toBe(false);
    expect(insert({ 'a.b': [1, 2] }).matches(change('insert', { _id: 4, a: { b: [1, 2] } }))).toBe(true);
    expect(insert({}, { collection: 'orders' }).matches(change('insert', { _id: 5 }, 'other'))).toBe(false);
    const either = insert({ foo: exists() }).or(remove({ bar: 1 }));
    expect(either.matches(change('insert', { _id: 6, foo: 1 }))).toBe(true);
    expect(either.matches(change('delete', { _id: 7, bar: 1 }))).toBe(true);
    expect(either.matches(change('insert', { _id: 8, bar: 1 }))).toBe(false);
    expect(anyOf(update({ s: 'paid' }), insert({ s: 'paid' })).matches(change('update', { _id: 9, s: 'paid' }))).toBe(true);
  });
});

for (const kind of ['mongo-java-server', 'ferretdb', 'mongodb'] as const) {
  const missing = missingMongoServer(kind);
  describe.skipIf(missing)(`triggers on ${mongoServerName(kind)}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    let server: MongoTestServer;
    let client: MongoClient;
    let db: Db;
    let dbName: string;
    const runners: TriggerRunner[] = [];
    beforeAll(async () => {
      server = await startMongoServer(kind);
      client = await MongoClient.connect(server.url);
      dbName = `skq_triggers_${process.pid}`;
      db = client.db(dbName);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(runners.map((r) => r.stop()));
      await db?.dropDatabase().catch(() => {});
      await client?.close();
      await server?.stop();
    });
    const url = () => server.url.replace(/\/(\?|$)/, `/${dbName}$1`);
    const start = async (triggers: Trigger[], name = uniqueQueue('runner')) => {
      // The backend's URL, with a backend-only option, serves the runner too.
      const shared = `${url()}${url().includes('?') ? '&' : '?'}skqWakeups=poll`;
      const runner = await TriggerRunner.start({ url: shared, name, logger: false }, triggers);
      runners.push(runner);
      return runner;
    };

    const { changeStreams, databaseChangeStreams } = MONGO_SERVER_FEATURES[kind];
    if (!changeStreams) {
      it('fails at start with UNSUPPORTED, saying a replica set is required', async () => {
        const started = TriggerRunner.start({ url: url(), logger: false }, [defineTrigger(insert({}, { collection: 'x' }), () => {})]);
        await expect(started).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('replica set') });
      });
      return;
    }

    it('runs inline handlers on inserts matching a predicate, with the named fields or the whole document', async () => {
      const coll = uniqueQueue('ins');
      const calls: unknown[] = [];
      await start([
        defineTrigger(insert({ _id: 1 }, { collection: coll }), (a: number, b: number) => calls.push(['sum', a + b]), { fields: ['a', 'b'] }),
        defineTrigger(insert({ kind: 'whole' }, { collection: coll }), (doc: Record<string, unknown>) => calls.push(['doc', doc])),
      ]);
      await db.collection(coll).insertOne({ _id: 2 as never, a: 1, b: 1 });
      await db.collection(coll).insertOne({ _id: 1 as never, a: 4, b: 5 });
      await db.collection(coll).insertOne({ _id: 3 as never, kind: 'whole', n: 7 });
      await eventually(() => calls.length === 2, 'two handler calls');
      expect(calls).toEqual([
        ['sum', 9],
        ['doc', { _id: 3, kind: 'whole', n: 7 }],
      ]);
    });

    it('fires on updates and deletes with predicates, and on or-combinations', async () => {
      const coll = uniqueQueue('upd');
      const seen: string[] = [];
      await start([
        defineTrigger(update({ status: 'paid' }, { collection: coll }), (doc: { _id: string }) => seen.push(`paid ${doc._id}`)),
        defineTrigger(remove({ _id: 'lock' }, { collection: coll }), () => seen.push('lock released')),
        defineTrigger(insert({ foo: exists() }, { collection: coll }).or(insert({ bar: exists() }, { collection: coll })), (doc: { _id: string }) => seen.push(`foo or bar ${doc._id}`)),
      ]);
      const c = db.collection<{ _id: string; status?: string; foo?: number; bar?: number }>(coll);
      await c.insertOne({ _id: 'o1', status: 'new' });
      await c.updateOne({ _id: 'o1' }, { $set: { status: 'paid' } });
      await c.updateOne({ _id: 'o1' }, { $set: { note: 'x' } as never });
      await c.insertOne({ _id: 'lock' });
      await c.deleteOne({ _id: 'lock' });
      await c.insertOne({ _id: 'f', foo: 1 });
      await c.insertOne({ _id: 'b', bar: 1 });
      await c.insertOne({ _id: 'n' });
      await eventually(() => seen.length >= 5, 'five firings');
      await sleep(300);
      // The second update leaves the order paid, so it fires again: update() matches the document after the write.
      expect(seen).toEqual(['paid o1', 'paid o1', 'lock released', 'foo or bar f', 'foo or bar b']);
    });

    it('fires a job to a route with an id derived from the change, and keeps going after a failing handler', async () => {
      const coll = uniqueQueue('job');
      const backend = await MongoBackend.connect({ url: url(), logger: false });
      const queue = new SkunkQueue(uniqueQueue('triggered'), { backend });
      const ship = queue.job({ name: 'ship', routes: ['default'] }, async (order: { _id: string }) => order._id);
      let failures = 0;
      const runner = await start([
        defineTrigger(insert({}, { collection: coll }), { job: ship, routes: ['shipping'] }),
        defineTrigger(insert({}, { collection: coll }), () => {
          failures += 1;
          throw new Error('handler bug');
        }),
        defineTrigger(insert({}, { collection: coll }), () => {}, { fields: ['missing'] }),
      ]);
      await db.collection(coll).insertOne({ _id: 'order-1' as never });
      await db.collection(coll).insertOne({ _id: 'order-2' as never });
      await eventually(async () => (await queue.list()).jobs.length === 2, 'two fired jobs');
      const { jobs } = await queue.list();
      expect(jobs.map((j) => j.routes)).toEqual([['shipping'], ['shipping']]);
      expect(jobs.map((j) => (j.args[0] as { _id: string })._id).sort()).toEqual(['order-1', 'order-2']);
      for (const j of jobs) expect(j.id).toMatch(/^trigger:runner-[^:]+:ship:[0-9a-f]{24}$/);
      await eventually(() => runner.stats().failed === 4, 'four failed handler calls');
      expect(failures).toBe(2);
      expect(runner.stats()).toMatchObject({ changes: 2, fired: 2, failed: 4 });
      await queue.close();
      await backend.close();
    });

    it('resumes from the stored position after a restart, missing nothing and repeating nothing', async () => {
      const coll = uniqueQueue('resume');
      const name = uniqueQueue('resumer');
      const seen: number[] = [];
      const trigger = defineTrigger(insert({}, { collection: coll }), (n: number) => seen.push(n), { fields: ['n'] });
      const first = await start([trigger], name);
      await db.collection(coll).insertOne({ n: 1 });
      await eventually(() => seen.length === 1, 'the first insert');
      await first.stop();
      // Written while no runner is watching.
      await db.collection(coll).insertMany([{ n: 2 }, { n: 3 }]);
      await start([trigger], name);
      await db.collection(coll).insertOne({ n: 4 });
      await eventually(() => seen.length === 4, 'all four inserts');
      await sleep(300);
      expect(seen).toEqual([1, 2, 3, 4]);
      const positions = await db.collection('skq_trigger_positions').find({ _id: `${name}/${coll}` as never }).toArray();
      expect(positions).toHaveLength(1);
    });

    it.skipIf(!databaseChangeStreams)(`watches every collection when a predicate names none${databaseChangeStreams ? '' : ' (skipped: this server delivers no database-wide change streams)'}`, async () => {
      const seen: string[] = [];
      await start([defineTrigger(insert({ everywhere: true }), (doc: { where: string }) => seen.push(doc.where))]);
      await db.collection(uniqueQueue('a')).insertOne({ everywhere: true, where: 'a' });
      await db.collection(uniqueQueue('b')).insertOne({ everywhere: true, where: 'b' });
      await eventually(() => seen.length === 2, 'inserts in two collections');
      expect(seen.sort()).toEqual(['a', 'b']);
    });
  });
}


