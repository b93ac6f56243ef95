import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { missingPostgres, runStorageContract, startPostgres, type PostgresServer } from '@skq/testing';
import { PostgresBackend } from '@skq/postgres';

const missing = missingPostgres();

describe.skipIf(missing)(`postgres ${missing ?? ''}`, () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres({ durable: false });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  runStorageContract('postgres 15 (node-postgres)', () => PostgresBackend.connect({ url: server.url, logger: false }), {
    damage: async (_queue, jobId) => {
      const client = new pg.Client(server.url);
      await client.connect();
      await client.query(`UPDATE skunq.jobs SET args = '{"not json' WHERE id = $1`, [jobId]);
      await client.end();
    },
  });
});
