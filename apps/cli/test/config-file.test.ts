import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { runCli } from '@skq/cli';

const dir = mkdtempSync(join(tmpdir(), 'skq-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('reads queue and backend from skunq.config in the working directory', async () => {
  const db = join(dir, 'from-config.db');
  writeFileSync(join(dir, 'skunq.config.mjs'), `export default { backend: 'sqlite:${db}', queue: 'configured' };\n`);
  const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    expect(await runCli(['status', '--json'], dir)).toBe(0);
    expect(JSON.parse(String(out.mock.calls[0]?.[0]))).toMatchObject({ queue: 'configured', workers: [], counts: {} });
  } finally {
    out.mockRestore();
  }
});

it('refuses a config with unknown keys, naming them', async () => {
  const bad = mkdtempSync(join(dir, 'bad-'));
  writeFileSync(join(bad, 'skunq.config.mjs'), `export default { queue: 'x', colour: 'red' };\n`);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await runCli(['status'], bad)).toBe(2);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/CONFIG_INVALID.*colour/);
  } finally {
    err.mockRestore();
  }
});
