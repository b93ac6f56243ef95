import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skq-operating-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The README's "Operating queues" example, run as a user runs it.
it('runs the operating example', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=skq-source', '--import', 'tsx', 'operate.ts'], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'example.db')}` },
    timeout: 60_000,
  });
  expect(stdout).toContain("paused: [ 'images' ]");
  expect(stdout).toContain('while paused the job is queued');
  expect(stdout).toContain("resize returned 3 with progress { page: 3, of: 3 }");
  expect(stdout).toContain('charge failed: job "charge"');
  expect(stdout).toContain('retried 1 failed charge');
  expect(stdout).toContain('charge now returns charged 500');
  expect(stdout).toContain('promoted job returned charged 100');
  expect(stdout).toContain("newest succeeded: [ 'charge', 'charge' ] (more)");
  expect(stdout).toMatch(/completed this minute: 3 failed: 1/);
  expect(stdout).toContain("backup returned 0 and printed [ 'copying files' ]");
  expect(stdout).toMatch(/records: \[ 'backup pid \d+ -> 0' \]/);
  expect(stdout).toMatch(/a worker: running on routes \[ '(images|billing)' \]/);
});
