import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect } from 'vitest';
import { runStorageContract } from '@skq/testing';
import { SqliteBackend } from '@skq/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'skq-sqlite-contract-'));
afterAll(() => {
  // The counts the steps keep (no triggers) equal the rows, after every test of the contract ran on this file.
  const db = new Database(join(dir, 'contract.db'), { readonly: true });
  const kept = db.prepare('SELECT queue, route, state, n FROM skq_counts WHERE n <> 0 ORDER BY 1, 2, 3').all();
  const rows = db.prepare('SELECT queue, route, state, COUNT(*) AS n FROM skq_jobs WHERE dix >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3').all();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  expect(kept).toEqual(rows);
});

runStorageContract('sqlite (better-sqlite3, WAL)', async () => new SqliteBackend({ path: join(dir, 'contract.db'), pollIntervalMs: 50 }), {
  damage: async (_queue, jobId) => {
    const db = new Database(join(dir, 'contract.db'));
    db.prepare(`UPDATE skq_jobs SET args = '{"not json' WHERE id = ?`).run(jobId);
    db.close();
  },
});
