import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skq-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The README's quick start, run as a user runs it: a real process on the embedded default.
it('runs the quick start demo end to end', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=skq-source', '--import', 'tsx', 'demo.ts'], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'demo.db')}` },
    timeout: 60_000,
  });
  expect(stdout).toContain('result: 9');
  expect(stdout).toContain('result: 42');
  expect(stdout).toContain('greeting: said hello to Jed');
  expect(stdout).toContain("conjunction results: [ 'said hello', 'said hello to Ian', 3 ]");
  expect(stdout).toContain('bad arguments are refused');
  expect(stdout).toContain('demo done');
});
