import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skq-sched-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The README's scheduling example, run as a user runs it.
it('runs the scheduling example', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=skq-source', '--import', 'tsx', 'schedules.ts'], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'example.db')}` },
    timeout: 60_000,
  });
  expect(stdout).toContain("shell task: { exitCode: 0, stdout: 'hello ; not a shell\\n', stderr: '' }");
  const fired = Object.fromEntries([...stdout.matchAll(/schedule (\S+): fired (\d+) times/g)].map((m) => [m[1], Number(m[2])]));
  expect(fired['foo-bar']).toBeGreaterThanOrEqual(4);
  expect(fired.gather).toBeGreaterThanOrEqual(3);
  expect(fired.probe).toBeGreaterThanOrEqual(3);
});
