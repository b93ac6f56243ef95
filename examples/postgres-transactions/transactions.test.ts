import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { missingPostgres, usePostgresServer } from '@skq/testing';

const missing = missingPostgres();

// The README's transactional-enqueue examples, run as a user runs them, on a real PostgreSQL 15.
describe.skipIf(missing)(`postgres transactional enqueue examples ${missing ?? ''}`, () => {
  const server = usePostgresServer();
  const run = async (file: string) =>
    (
      await promisify(execFile)(process.execPath, ['--conditions=skq-source', '--import', 'tsx', file], {
        cwd: fileURLToPath(new URL('.', import.meta.url)),
        env: { ...process.env, DATABASE_URL: server().url },
        timeout: 60_000,
      })
    ).stdout;

  it('raw node-postgres: a rolled-back order leaves no job, a committed one runs', async () => {
    const stdout = await run('raw-pg.ts');
    expect(stdout).toContain('order failed: card declined');
    expect(stdout).toContain('jobs after the rollback: 0');
    expect(stdout).toMatch(/committed: receipt for order \d+ sent/);
  });

  it('Kysely: a rolled-back transaction leaves no job, a committed one runs', async () => {
    const stdout = await run('kysely.ts');
    expect(stdout).toContain('invoice failed: tax service down');
    expect(stdout).toContain('jobs after the rollback: 0');
    expect(stdout).toMatch(/committed: invoice \d+ emailed/);
  });
});
