import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skq-groups-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The README's groups example, run as a user runs it.
it('runs the groups example', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=skq-source', '--import', 'tsx', 'groups.ts'], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'example.db')}` },
    timeout: 60_000,
  });
  expect(stdout).toContain('most reports at once: big-customer 2, small-customer 2');
  // Fair turns: the small customer's 3 reports are done long before the big one's 30.
  const by = Number(/small-customer finished by report (\d+) of 33/.exec(stdout)?.[1]);
  expect(by).toBeLessThanOrEqual(12);
  // The 429 held the group for a second, and the attempt it used was not charged.
  expect(stdout).toContain('first forecast: sunny in Oslo (attempt 2)');
  const [, offsets, busiest] = /forecast calls started at ([\d., ]+) s: at most (\d+) in any second/.exec(stdout) ?? [];
  expect(Number(busiest)).toBeLessThanOrEqual(5);
  // 9 calls: the 429, 4 more at once, then 4 once the hold of a second has passed (the 429'd one again among them).
  const times = offsets!.split(', ').map(Number);
  expect(times).toHaveLength(9);
  expect(times.filter((t) => t >= 1).length).toBeGreaterThanOrEqual(3);
});
