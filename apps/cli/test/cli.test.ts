import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue, isSkqError } from '@skq/core';
import { type CliProcess, eventually, runCliProcess, startCli, stopAll } from '@skq/testing';

const dir = mkdtempSync(join(tmpdir(), 'skq-cli-'));
const backend = `sqlite:${join(dir, 'cli.db')}`;
const env = { SKQ_BACKEND: backend };
const JOBS = 'apps/cli/test/fixtures/jobs.ts';
const running: CliProcess[] = [];
let jobs: typeof import('./fixtures/jobs.js');
let queue: SkunkQueue;

const worker = async (...extra: string[]) => {
  const proc = startCli(['work', '-q', 'cli', '-r', 'foo', 'bar', '-f', JOBS, '--lease-ms', '1500', ...extra], env);
  running.push(proc);
  await proc.waitFor('listening');
  return proc;
};

beforeAll(async () => {
  process.env.SKQ_BACKEND = backend;
  jobs = await import('./fixtures/jobs.js');
  queue = jobs.queue;
});
afterEach(async () => {
  await stopAll(running);
});
afterAll(async () => {
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('skunq command line', () => {
  it('prints help for every command and exits 0', async () => {
    const main = await runCliProcess(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('Usage: skunq <command>');
    const work = await runCliProcess(['work', '--help']);
    expect(work).toMatchObject({ code: 0, stdout: expect.stringContaining('--routes') });
    const status = await runCliProcess(['status', '-h']);
    expect(status).toMatchObject({ code: 0, stdout: expect.stringContaining('--json') });
  });

  it('prints usage and exits 2 on bad flags and bad options', async () => {
    const unknown = await runCliProcess(['work', '-q', 'cli', '-r', 'foo', '--bogus'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --bogus');
    expect(unknown.stderr).toContain('Usage: skunq work');
    const noQueue = await runCliProcess(['work', '-r', 'foo'], env);
    expect(noQueue).toMatchObject({ code: 2, stderr: expect.stringContaining('-q/--queue is required') });
    const badNumber = await runCliProcess(['work', '-q', 'cli', '-r', 'foo', '--concurrency', 'lots'], env);
    expect(badNumber).toMatchObject({ code: 2, stderr: expect.stringContaining('--concurrency must be a positive integer') });
    const badBackend = await runCliProcess(['status', '-q', 'cli', '--backend', 'nosuch://x'], env);
    expect(badBackend).toMatchObject({ code: 2, stderr: expect.stringContaining('[CONFIG_INVALID] unknown backend scheme "nosuch:"') });
    const badCommand = await runCliProcess(['dance'], env);
    expect(badCommand).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "dance"') });
  });

  it('runs jobs fired from another process, keeps running after an unknown job, and shows status', async () => {
    const proc = await worker();
    expect(await (await jobs.add.fire(2, 3)).result({ timeoutMs: 10_000 })).toBe(5);
    expect(await (await queue.push(new jobs.Shout().with('hi'))).result({ timeoutMs: 10_000 })).toBe('HI');

    const [ghost] = await (await queue.backend()).enqueue([
      { id: `ghost-${Date.now()}`, queue: 'cli', name: 'ghost', args: [], routes: ['foo'], type: 'direct', priority: 0, runAt: Date.now(), createdAt: Date.now(), options: { attempts: 2, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 1, jitter: 0 }, timeoutMs: null } },
    ]);
    const err = await (await queue.get(ghost!.id)).result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(isSkqError(err, 'JOB_FAILED')).toBe(true);
    expect(err).toMatchObject({ context: { remoteCode: 'UNKNOWN_JOB' }, message: expect.stringContaining('no job named "ghost"') });
    expect(proc.child.exitCode).toBeNull();
    expect(await (await jobs.add.fire(40, 2)).result({ timeoutMs: 10_000 })).toBe(42);

    const status = await runCliProcess(['status', '-q', 'cli', '--json'], env);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.workers.map((w: { routes: string[] }) => w.routes[0]).sort()).toEqual(['bar', 'foo']);
    expect(report.workers.every((w: { pid: number }) => w.pid === proc.child.pid)).toBe(true);
    expect(report.counts.foo.succeeded).toBeGreaterThanOrEqual(2);
    expect(report.counts.foo.failed).toBeGreaterThanOrEqual(1);
    const table = await runCliProcess(['status', '-q', 'cli'], env);
    expect(table.stdout).toMatch(/foo\s+\d+/);
  });

  it('SIGTERM is gentle: the running job finishes, then the pool unregisters and exits 0', async () => {
    const proc = await worker();
    const handle = await jobs.slowFirstAttempt.fire(1_500);
    await eventually(async () => (await handle.state()) === 'running', 'the job to start', 10_000);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.stdout()).toContain('stopped on SIGTERM');
    expect(await handle.state()).toBe('succeeded');
    expect(await handle.result()).toMatchObject({ attempt: 1 });
    expect((await queue.workers()).filter((w) => w.pid === proc.child.pid)).toEqual([]);
  });

  it('SIGINT is rough: the running job goes back to the queue and a second worker finishes it', async () => {
    const first = await worker();
    const handle = await jobs.slowFirstAttempt.fire(60_000);
    await eventually(async () => (await handle.state()) === 'running', 'the job to start', 10_000);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    expect(first.stdout()).toContain('stopped on SIGINT');
    const info = await handle.info();
    expect(info.state).toBe('queued');
    expect(info.attempts).toBe(1);
    expect(info.deliveries[0]!.error?.code).toBe('INTERRUPTED');
    expect((await queue.workers()).filter((w) => w.pid === first.child.pid)).toEqual([]);
    await worker();
    const result = (await handle.result({ timeoutMs: 10_000 })) as { attempt: number; workerId: string };
    expect(result.attempt).toBe(2);
  });

  it('SIGKILL: nobody cleans up, and a second worker finishes the job once the lease expires', async () => {
    const first = await worker();
    const handle = await jobs.slowFirstAttempt.fire(60_000);
    await eventually(async () => (await handle.state()) === 'running', 'the job to start', 10_000);
    const killedWorker = (await handle.info()).deliveries[0]!.workerId;
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    const second = await worker();
    const result = (await handle.result({ timeoutMs: 15_000 })) as { attempt: number; workerId: string };
    expect(result.attempt).toBe(2);
    expect(result.workerId).not.toBe(killedWorker);
    expect(result.workerId).toContain(`:${second.child.pid}:`);
    // Not before the 1.5 s lease the killed worker last renewed had run out.
    expect(Date.now() - killedAt).toBeGreaterThan(500);
  });

  it('fires schedules from skunq work unless --no-scheduler, and manages them with skunq schedule', async () => {
    const quiet = await worker('--no-scheduler');
    await queue.schedule('every-100ms', jobs.add.with(1, 2), { every: { millis: 100 } });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await queue.schedules()).find((s) => s.id === 'every-100ms')?.firedCount).toBe(0);
    quiet.child.kill('SIGTERM');
    await quiet.exited;

    await worker();
    await eventually(async () => ((await queue.schedules()).find((s) => s.id === 'every-100ms')?.firedCount ?? 0) >= 3, 'three ticks', 10_000);
    const list = await runCliProcess(['schedule', 'list', '-q', 'cli', '--json'], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).find((s: { id: string }) => s.id === 'every-100ms')).toMatchObject({ rule: { kind: 'every', everyMs: 100 }, paused: false });
    expect(await runCliProcess(['schedule', 'pause', 'every-100ms', '-q', 'cli'], env)).toMatchObject({ code: 0, stdout: 'paused schedule every-100ms\n' });
    expect((await queue.schedules()).find((s) => s.id === 'every-100ms')?.paused).toBe(true);
    expect(await runCliProcess(['schedule', 'remove', 'every-100ms', '-q', 'cli'], env)).toMatchObject({ code: 0 });
    expect(await runCliProcess(['schedule', 'resume', 'every-100ms', '-q', 'cli'], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('JOB_NOT_FOUND') });
    expect(await runCliProcess(['schedule', 'pause', '-q', 'cli'], env)).toMatchObject({ code: 2, stderr: expect.stringContaining("needs the schedule's id") });
  });
});
