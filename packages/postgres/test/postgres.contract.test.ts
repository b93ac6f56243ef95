import pg from 'pg';
import { describe } from 'vitest';
import { missingPostgres, runStorageContract, usePostgresServer } from '@skq/testing';
import { PostgresBackend } from '@skq/postgres';

const missing = missingPostgres();

describe.skipIf(missing)(`postgres ${missing ?? ''}`, () => {
  const server = usePostgresServer();
  runStorageContract('postgres 15 (node-postgres)', () => PostgresBackend.connect({ url: server().url, logger: false }), {
    damage: async (_queue, jobId) => {
      const client = new pg.Client(server().url);
      await client.connect();
      await client.query(`UPDATE skunq.jobs SET args = '{"not json' WHERE id = $1`, [jobId]);
      await client.end();
    },
  });
});
