import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { runStorageContract } from '@skq/testing';
import { SqliteBackend } from '@skq/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'skq-sqlite-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStorageContract('sqlite (better-sqlite3, WAL)', async () => new SqliteBackend({ path: join(dir, 'contract.db'), pollIntervalMs: 50 }), {
  damage: async (_queue, jobId) => {
    const db = new Database(join(dir, 'contract.db'));
    db.prepare(`UPDATE skq_jobs SET args = '{"not json' WHERE id = ?`).run(jobId);
    db.close();
  },
});
