import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { SqliteBackend } from '@skq/sqlite';
import { newJob, uniqueQueue } from '@skq/testing';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'skq-sqlite-xproc-'));
const claimer = fileURLToPath(new URL('./fixtures/claimer.ts', import.meta.url));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('hands each job to exactly one of several processes sharing the file', async () => {
  const path = join(dir, 'shared.db');
  const queue = uniqueQueue('xproc');
  const backend = new SqliteBackend({ path });
  const jobs = Array.from({ length: 600 }, () => newJob(queue));
  await backend.enqueue(jobs);
  const barrier = mkdtempSync(join(dir, 'barrier-'));
  const ids = ['p1', 'p2', 'p3'];
  const outputs = await Promise.all(
    ids.map((id) =>
      run(process.execPath, ['--conditions=skq-source', '--import', 'tsx', claimer, path, queue, id, barrier, String(ids.length)], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      }),
    ),
  );
  const perProcess = outputs.map((o) => JSON.parse(o.stdout) as string[]);
  const all = perProcess.flat();
  expect(all).toHaveLength(600);
  expect(new Set(all).size).toBe(600);
  expect(perProcess.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
  expect((await backend.countByState(queue)).r?.succeeded).toBe(600);
  await backend.close();
});
