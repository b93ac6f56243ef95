import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runStorageContract } from '@skq/testing';
import { SqliteBackend } from '@skq/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'skq-sqlite-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStorageContract('sqlite (better-sqlite3, WAL)', async () => new SqliteBackend({ path: join(dir, 'contract.db'), pollIntervalMs: 50 }));
