import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingMongoServer, mongoServerName, runStorageContract, startMongoServer, type MongoServerKind, type MongoTestServer } from '@skq/testing';
import { MongoBackend } from '@skq/mongodb';

/** The wake-up source each server must end up with when left to choose. */
const EXPECTED_WAKEUPS: Record<MongoServerKind, string> = { 'mongo-java-server': 'change-stream', ferretdb: 'tailable', mongodb: 'change-stream' };

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
      const chosen = await MongoBackend.connect({ url: url('wakeups'), log: (line) => lines.push(line) });
      const polled = await MongoBackend.connect(url('wakeups', `${server.url.includes('?') ? '&' : '?'}skqWakeups=poll`));
      try {
        expect(chosen.wakeupSource).toBe(EXPECTED_WAKEUPS[kind]);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`wake-ups by ${EXPECTED_WAKEUPS[kind]}`);
        expect(polled.wakeupSource).toBe('poll');
        expect(polled.capabilities.pushEvents).toBe(false);
      } finally {
        await chosen.close();
        await polled.close();
      }
    });

    const noAtomicFindAndModify = kind === 'ferretdb' ? "FerretDB v1's findAndModify and conditional updates are not atomic" : undefined;
    const skip = { 'racing-claims': noAtomicFindAndModify, 'racing-schedule-fire': noAtomicFindAndModify };
    describe('wake-ups chosen by the server', () => {
      runStorageContract(`mongodb on ${mongoServerName(kind)}`, () => MongoBackend.connect({ url: url('contract'), log: false }), { skip });
    });
    describe('wake-ups by polling', () => {
      runStorageContract(`mongodb (polling) on ${mongoServerName(kind)}`, () => MongoBackend.connect({ url: url('contract_poll'), wakeups: 'poll', log: false }), { skip });
    });
  });
}
