import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BUILT = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));
// `pnpm test:all` builds before testing; a bare `pnpm test` on a fresh clone has no build to run.
const missing = existsSync(BUILT) ? null : 'apps/cli is not built (run pnpm build)';
if (missing && process.env.CI) throw new Error(`CI requires the built CLI: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'skq-built-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(missing)(`the built skunq binary ${missing ?? ''}`, () => {
  it('runs a TypeScript job module fired from another process, sharing one @skq/core instance', async () => {
    const env = { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'built.db')}` };
    const worker = spawn(process.execPath, [BUILT, 'work', '-q', 'demo', '-r', 'foo', '-f', 'jobs.ts'], { cwd: QUICKSTART, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stdout.on('data', (chunk) => (out += chunk));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const producer = spawn(
        process.execPath,
        ['--import', 'tsx', '-e', "const { add, queue } = await import('./jobs.ts'); console.log('result', await (await add.fire(2, 40)).result({ timeoutMs: 10000 })); await queue.close();"],
        { cwd: QUICKSTART, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let produced = '';
      let errors = '';
      producer.stdout.on('data', (chunk) => (produced += chunk));
      producer.stderr.on('data', (chunk) => (errors += chunk));
      const code = await new Promise((resolve) => producer.on('exit', resolve));
      expect(produced.trim(), `producer exit ${code}: ${errors}\nworker: ${out}`).toBe('result 42');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.on('exit', resolve));
    }
  });

  it('serves the monitor from the built packages, assets included (what npx skunq web runs)', async () => {
    const env = { ...process.env, SKQ_BACKEND: `sqlite:${join(dir, 'built.db')}` };
    const token = 'built-cli-token-0123456789';
    const web = spawn(process.execPath, [BUILT, 'web', '--port', '0', '--token', token], { cwd: QUICKSTART, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    web.stdout.on('data', (chunk) => (out += chunk));
    web.stderr.on('data', (chunk) => (out += chunk));
    try {
      const deadline = Date.now() + 20_000;
      while (!/on (http:\/\/\S+\/)/.test(out) && Date.now() < deadline && web.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = /on (http:\/\/\S+\/)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      const signIn = await fetch(`${url}?token=${token}`, { redirect: 'manual' });
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
      const overview = await fetch(url!, { headers: { cookie } });
      expect(overview.status).toBe(200);
      expect(await overview.text()).toContain('href="./queues/demo"');
      const script = await fetch(`${url}assets/monitor.js`);
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('EventSource');
    } finally {
      web.kill('SIGTERM');
      await new Promise((resolve) => web.on('exit', resolve));
    }
  });
});
