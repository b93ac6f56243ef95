import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONGO_SERVER_FEATURES, missingMongoServer, mongoServerName, runStorageContract, startMongoServer, type MongoServerKind, type MongoTestServer } from '@skq/testing';
import { MongoClient } from 'mongodb';
import { MongoBackend } from '@skq/mongodb';

/** The wake-up source a server must end up with when the backend is left to choose. */
const expectedWakeups = (kind: MongoServerKind) => (MONGO_SERVER_FEATURES[kind].changeStreams ? 'change-stream' : 'tailable');

for (const kind of ['mongo-java-server', 'ferretdb', 'mongodb'] as const) {
  const missing = missingMongoServer(kind);
  describe.skipIf(missing)(`${mongoServerName(kind)}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    let server: MongoTestServer;
    let db = 0;
    beforeAll(async () => {
      server = await startMongoServer(kind);
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });
    // Every suite gets its own database, so a run against a shared MongoDB starts clean.
    const url = (name: string, query = '') => server.url.replace(/\/(\?|$)/, `/skq_${name}_${process.pid}_${db}$1`) + query;

    it('chooses its wake-up source by what the server supports, and polling when asked', async () => {
      db += 1;
      const lines: string[] = [];
      const chosen = await MongoBackend.connect({ url: url('wakeups'), logger: { info: (_meta, line) => lines.push(line), warn: (_meta, line) => lines.push(line) } });
      const polled = await MongoBackend.connect(url('wakeups', `${server.url.includes('?') ? '&' : '?'}skqWakeups=poll`));
      try {
        expect(chosen.wakeupSource).toBe(expectedWakeups(kind));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`wake-ups by ${expectedWakeups(kind)}`);
        expect(polled.wakeupSource).toBe('poll');
        expect(polled.capabilities.pushEvents).toBe(false);
      } finally {
        await chosen.close();
        await polled.close();
      }
    });

    const notAtomic = MONGO_SERVER_FEATURES[kind].atomicUpdates ? undefined : "this server's findAndModify and conditional updates are not atomic";
    const skip = { 'racing-claims': notAtomic, 'racing-schedule-fire': notAtomic, 'racing-retry': notAtomic };
    // A job's arguments live on its header, or on its one delivery when it has one ('solo'): both are damaged.
    const damage = (name: string) => async (_queue: string, jobId: string) => {
      const client = await MongoClient.connect(url(name));
      const db = client.db();
      await db.collection('skq_jobs').updateMany({ _id: jobId as never }, { $set: { args: '{"not json' } });
      await db.collection('skq_deliveries').updateMany({ jobId }, { $set: { args: '{"not json' } });
      await client.close();
    };
    describe('wake-ups chosen by the server', () => {
      runStorageContract(`mongodb on ${mongoServerName(kind)}`, () => MongoBackend.connect({ url: url('contract'), logger: false }), { skip, damage: damage('contract') });
    });
    describe('wake-ups by polling', () => {
      runStorageContract(`mongodb (polling) on ${mongoServerName(kind)}`, () => MongoBackend.connect({ url: url('contract_poll'), wakeups: 'poll', logger: false }), { skip, damage: damage('contract_poll') });
    });
  });
}
