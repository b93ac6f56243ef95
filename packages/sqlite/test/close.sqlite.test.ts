import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./fixtures/close-while-delivering.ts', import.meta.url));

describe('closing a SQLite queue or pool', () => {
  it('cancels the event feed before the database closes, so the process ends normally', () => {
    // In its own process: the defect killed the process from a callback after close.
    const run = spawnSync(process.execPath, ['--conditions=skq-source', '--import', 'tsx', SCRIPT], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).not.toContain('database connection is not open');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('closed cleanly');
  });
});
