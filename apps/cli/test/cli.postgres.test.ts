import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { type CliProcess, eventually, missingPostgres, runCliProcess, startCli, stopAll, usePostgresServer } from '@skq/testing';

const missing = missingPostgres();

describe.skipIf(missing)(`skunq on PostgreSQL 15: work, jobs, pause, web, SIGKILL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const server = usePostgresServer();
  let url: string;
  const running: CliProcess[] = [];
  beforeAll(() => {
    url = `${server().url}?skqSchema=cli`;
  });
  afterEach(() => stopAll(running));

  it('skunq work runs jobs from SKQ_BACKEND=postgres://…; skunq jobs lists them, skunq pause holds the route', async () => {
    const worker = startCli(['work', '-q', 'cli', '-r', 'foo', '-f', 'apps/cli/test/fixtures/jobs.ts'], { SKQ_BACKEND: url });
    running.push(worker);
    await worker.waitFor('listening');
    const queue = new SkunkQueue('cli', { backend: url });
    const add = queue.job({ name: 'add', routes: ['foo'] }, async (_a: number, _b: number) => 0);
    expect(await (await add.fire(2, 3)).result({ timeoutMs: 10_000 })).toBe(5);
    const listed = await runCliProcess(['jobs', 'list', '-q', 'cli'], { SKQ_BACKEND: url });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/add\s+succeeded/);
    expect((await runCliProcess(['pause', '-q', 'cli', '-r', 'foo'], { SKQ_BACKEND: url })).code).toBe(0);
    const held = await add.fire(1, 1);
    // Paused: the worker claims nothing from the route until it is resumed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await held.state()).toBe('queued');
    expect((await runCliProcess(['resume', '-q', 'cli', '-r', 'foo'], { SKQ_BACKEND: url })).code).toBe(0);
    expect(await held.result({ timeoutMs: 10_000 })).toBe(2);
    await queue.close();
  });

  it("SIGKILL: a second worker finishes the killed worker's job once its lease expires", async () => {
    const args = ['work', '-q', 'cli', '-r', 'foo', '-f', 'apps/cli/test/fixtures/jobs.ts', '--lease-ms', '1500'];
    const first = startCli(args, { SKQ_BACKEND: url });
    running.push(first);
    await first.waitFor('listening');
    const queue = new SkunkQueue('cli', { backend: url });
    const slow = queue.job({ name: 'slowFirstAttempt', routes: ['foo'] }, async (_ms: number) => ({ attempt: 0, workerId: '' }));
    const handle = await slow.fire(60_000);
    await eventually(async () => (await handle.state()) === 'running', 'the job to start', 10_000);
    const killedWorker = (await handle.info()).deliveries[0]!.workerId;
    first.child.kill('SIGKILL');
    await first.exited;
    const second = startCli(args, { SKQ_BACKEND: url });
    running.push(second);
    const result = (await handle.result({ timeoutMs: 20_000 })) as { attempt: number; workerId: string };
    expect(result.attempt).toBe(2);
    expect(result.workerId).not.toBe(killedWorker);
    expect(result.workerId).toContain(`:${second.child.pid}:`);
    await queue.close();
  });

  it('skunq web serves the monitor of a postgres:// backend, behind its token', async () => {
    const token = 'cli-web-postgres-token-0123456789';
    const web = startCli(['web', '-q', 'cli', '--port', '0', '--token', token, '-b', url]);
    running.push(web);
    await web.waitFor('skunq web: monitor of');
    const base = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(web.stdout())![1]!;
    // Without the token: sent to sign in.
    expect((await fetch(`${base}/queues/cli`, { redirect: 'manual' })).headers.get('location')).toBe('../login');
    const page = await fetch(`${base}/queues/cli`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/add[\s\S]*succeeded/);
  });
});
