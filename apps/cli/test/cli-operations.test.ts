import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SkunkQueue, WorkerInfo } from '@skq/core';
import { type CliProcess, eventually, newJob, runCliProcess, startCli, stopAll } from '@skq/testing';

const dir = mkdtempSync(join(tmpdir(), 'skq-cli-ops-'));
const backend = `sqlite:${join(dir, 'ops.db')}`;
const env = { SKQ_BACKEND: backend };
const JOBS = 'apps/cli/test/fixtures/operating.ts';
const running: CliProcess[] = [];
let jobs: typeof import('./fixtures/operating.js');
let queue: SkunkQueue;
let gates = 0;

const worker = async (...routes: string[]) => {
  const proc = startCli(['work', '-q', 'ops', '-r', ...routes, '-f', JOBS, '--lease-ms', '2000'], env);
  running.push(proc);
  await proc.waitFor('listening');
  return proc;
};
/** The registration of a worker process on one route. */
const registration = async (proc: CliProcess, route: string): Promise<WorkerInfo> =>
  (await eventually(async () => (await queue.workers()).find((w) => w.pid === proc.child.pid && w.routes.includes(route)), `the worker of pid ${proc.child.pid}`))!;
const opened: string[] = [];
const newGate = () => {
  const path = join(dir, `release-${(gates += 1)}`);
  opened.push(path);
  return path;
};
const skunq = (...args: string[]) => runCliProcess([...args, '-q', 'ops'], env);
/** A gate job running on the worker of `proc` on route foo, once its registration lists it. */
const runningGate = async (proc: CliProcess) => {
  const release = newGate();
  const handle = await jobs.gate.fire(release);
  const info = await registration(proc, 'foo');
  await eventually(async () => (await registration(proc, 'foo')).runningJobIds.includes(handle.id), 'the job on the registration');
  return { release, handle, info };
};

beforeAll(async () => {
  process.env.SKQ_BACKEND = backend;
  jobs = await import('./fixtures/operating.js');
  queue = jobs.queue;
});
afterEach(async () => {
  // A failed case must not leave gate jobs that block the next one's workers.
  for (const path of opened.splice(0)) writeFileSync(path, '');
  await stopAll(running);
});
afterAll(async () => {
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('operating queues from the command line', () => {
  it('skunq workers stop: the worker reports stopping, finishes its job and exits 0', async () => {
    const proc = await worker('foo');
    const { release, handle, info } = await runningGate(proc);
    const stop = await skunq('workers', 'stop', info.id);
    expect(stop).toMatchObject({ code: 0, stdout: expect.stringContaining(`worker ${info.id} obeyed "stop"`) });
    const listed = await runCliProcess(['workers', 'list', '-q', 'ops'], env);
    expect(listed.stdout).toMatch(new RegExp(`${info.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+stopping`));
    writeFileSync(release, '');
    expect(await proc.exited).toBe(0);
    expect(await handle.result({ timeoutMs: 10_000 })).toEqual({ attempt: 1, workerId: info.id });
    expect(await queue.workers()).toEqual([]);
  });

  it('skunq workers stop --rough: the job goes back to the queue and a second worker finishes it', async () => {
    const first = await worker('foo');
    const { release, handle, info } = await runningGate(first);
    expect((await skunq('workers', 'stop', info.id, '--rough')).code).toBe(0);
    expect(await first.exited).toBe(0);
    expect(await handle.state()).toBe('queued');
    writeFileSync(release, '');
    const second = await worker('foo');
    const result = (await handle.result({ timeoutMs: 15_000 })) as { attempt: number; workerId: string };
    expect(result.workerId).toBe((await registration(second, 'foo')).id);
    expect(result.attempt).toBe(2);
  });

  it('skunq workers: an unknown id is an error, and pause/resume hold and restart one worker', async () => {
    const unknown = await skunq('workers', 'stop', 'no-such-worker');
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('[WORKER_NOT_FOUND]') });
    const proc = await worker('bar');
    const info = await registration(proc, 'bar');
    expect(await skunq('workers', 'pause', info.id)).toMatchObject({ code: 0, stdout: expect.stringContaining('obeyed "pause"') });
    expect((await registration(proc, 'bar')).state).toBe('paused');
    const held = await jobs.sentinel.fire();
    expect(await skunq('workers', 'resume', info.id)).toMatchObject({ code: 0 });
    expect(await held.result({ timeoutMs: 10_000 })).toBe(info.id);
  });

  it('skunq workers: a command to a killed worker expires with COMMAND_EXPIRED, and so does one nobody obeys in time', async () => {
    const proc = startCli(['work', '-q', 'ops', '-r', 'bar', '-f', JOBS, '--registration-ttl-ms', '4000'], env);
    running.push(proc);
    await proc.waitFor('listening');
    const info = await registration(proc, 'bar');
    proc.child.kill('SIGKILL');
    await proc.exited;
    // Its registration outlives it until it lapses: the stop is left there, never obeyed.
    const stop = await skunq('workers', 'stop', info.id);
    expect(stop).toMatchObject({
      code: 1,
      stderr: `skunq workers: [COMMAND_EXPIRED] worker ${info.id} stopped renewing its registration, which expired before it obeyed "stop": it has died\n`,
    });
    const backend = await queue.backend();
    await backend.registerWorker({ id: 'ops:ghost', queue: 'ops', routes: ['bar'], hostname: 'h', pid: 1, startedAt: Date.now() }, 60_000);
    try {
      const paused = await skunq('workers', 'pause', 'ops:ghost', '--timeout-ms', '300');
      expect(paused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^skunq workers: \[COMMAND_EXPIRED\] worker ops:ghost did not obey "pause" within 300 ms; it may have died, and its registration expires at \d{4}-/) });
    } finally {
      await backend.unregisterWorker('ops', 'ops:ghost');
    }
  });

  it('skunq pause: two workers stop claiming from the route until skunq resume', async () => {
    const [a, b] = [await worker('foo', 'bar'), await worker('foo', 'bar')];
    expect(await skunq('pause', '-r', 'foo')).toMatchObject({ code: 0, stdout: 'paused route foo of queue ops\n' });
    const status = await skunq('status');
    expect(status.stdout).toContain('PAUSED routes: foo');
    const held = await Promise.all(Array.from({ length: 10 }, (_, i) => jobs.quick.fire(i)));
    // Both workers are awake and claiming: the route that is not paused runs at once.
    const sentinels = await Promise.all(Array.from({ length: 4 }, () => jobs.sentinel.fire()));
    await Promise.all(sentinels.map((s) => s.result({ timeoutMs: 10_000 })));
    expect(await Promise.all(held.map((h) => h.state()))).toEqual(Array(10).fill('queued'));
    expect((await skunq('resume', '-r', 'foo')).code).toBe(0);
    const results = (await Promise.all(held.map((h) => h.result({ timeoutMs: 15_000 })))) as { n: number; workerId: string }[];
    expect(results.map((r) => r.n)).toEqual([...Array(10).keys()]);
    const ids = new Set([(await registration(a, 'foo')).id, (await registration(b, 'foo')).id]);
    expect(results.every((r) => ids.has(r.workerId))).toBe(true);
    expect((await skunq('status')).stdout).toContain('not paused');
  });

  it('skunq jobs: list, show --json, retry, promote, remove and clean', async () => {
    const proc = await worker('bar');
    const failed = await jobs.broken.fire('kaput');
    await expect(failed.result({ timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'JOB_FAILED' });
    const listed = await skunq('jobs', 'list', '--state', 'failed', '--name', 'broken');
    expect(listed.stdout).toContain(failed.id);
    const shown = await skunq('jobs', 'show', failed.id, '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: failed.id, state: 'failed', deliveries: [{ error: { message: 'kaput' } }] });
    expect(await skunq('jobs', 'retry', failed.id)).toMatchObject({ code: 0, stdout: `retried job ${failed.id}\n` });
    await eventually(async () => (await failed.info()).attempts === 2 && (await failed.state()) === 'failed', 'the retried attempt to fail');
    const again = await skunq('jobs', 'retry', '--all', '--name', 'broken');
    expect(again.stdout).toBe('retried 1 job\n');

    const delayed = await queue.push(jobs.sentinel.with(), { at: { hours: 1 } });
    expect(await delayed.state()).toBe('scheduled');
    expect((await skunq('jobs', 'promote', delayed.id)).code).toBe(0);
    expect(typeof (await delayed.result({ timeoutMs: 10_000 }))).toBe('string');

    const waiting = await queue.push(jobs.sentinel.with(), { at: { hours: 2 } });
    expect(await skunq('jobs', 'remove', waiting.id)).toMatchObject({ code: 0, stdout: `removed job ${waiting.id}\n` });
    expect(await queue.getRecord(waiting.id)).toBeNull();
    expect(await skunq('jobs', 'remove', waiting.id)).toMatchObject({ code: 1, stderr: expect.stringContaining('[JOB_NOT_FOUND]') });

    const cleaned = await skunq('jobs', 'clean', '--state', 'succeeded');
    expect(cleaned.stdout).toMatch(/^removed [1-9]\d* succeeded jobs?\n$/);
    expect((await queue.list({ state: 'succeeded' })).jobs).toEqual([]);
    expect((await skunq('jobs', 'clean', '--state', 'running')).stderr).toContain('[INVALID_STATE]');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('skunq groups: sets and clears group and route limits, and lists groups with their counts and limits', async () => {
    const limit = await skunq('groups', 'limit', 'tenant-a', '--concurrency', '2', '--rate', '100/1m');
    expect(limit).toMatchObject({ code: 0, stdout: expect.stringContaining('group tenant-a: 2 at once, 100 per 60000 ms') });
    expect(await queue.groupLimits('tenant-a')).toEqual({ concurrency: 2, rate: { max: 100, perMs: 60_000 } });
    expect((await skunq('groups', 'limit', '*', '--concurrency', '3')).code).toBe(0);
    expect((await skunq('groups', 'limit', 'bar', '--route', '--rate', '5/1s')).code).toBe(0);
    expect(await queue.routeLimits('bar')).toEqual({ rate: { max: 5, perMs: 1_000 } });
    await jobs.grouped.fireWith({ group: 'tenant-b' }, 1);
    const listed = await skunq('groups', 'list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({
      groups: [
        { group: 'tenant-a', queued: 0, running: 0, limitedUntil: null, limits: { concurrency: 2, rate: { max: 100, perMs: 60_000 } } },
        { group: 'tenant-b', queued: 1, running: 0, limitedUntil: null, limits: null },
      ],
      cursor: null,
    });
    expect((await skunq('groups', 'list')).stdout).toMatch(/tenant-b\s+queued\s+1\s+running\s+0\s+limits none/);
    expect((await skunq('groups', 'clear', 'tenant-a')).code).toBe(0);
    expect((await skunq('groups', 'clear', 'bar', '--route')).code).toBe(0);
    expect(await queue.groupLimits('tenant-a')).toBeNull();
    expect(await queue.routeLimits('bar')).toBeNull();
    const bad = await skunq('groups', 'limit', 'tenant-a', '--rate', 'fast');
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--rate takes max/duration') });
    expect((await skunq('groups', 'limit', 'tenant-a')).code).toBe(2);
    await queue.remove((await queue.list({ limit: 10 })).jobs.find((j) => j.group === 'tenant-b')!.id);
    await queue.clearGroupLimits('*');
  });

  it('escapes control characters in human output: ids, errors and log lines cannot drive the terminal', async () => {
    await worker('bar');
    const hostile = 'click \u001b]8;;https://evil.example\u0007here\u001b]8;;\u0007 \u001b[2J\u009b31m red\u007f\r\nsecond line';
    const id = 'evil\u001b[31m\nfake-row\u009b';
    // Core refuses such an id at fire now; one stored before that (or by another client) is shown escaped.
    const backend = await queue.backend();
    await backend.enqueue([newJob('ops', { id, name: 'noisy', routes: ['bar'], args: [hostile], options: { ...newJob('ops').options, attempts: 1 } })]);
    await eventually(async () => (await queue.getRecord(id))?.state === 'failed', 'the hostile job to fail', 10_000);
    // Any control character but the newline of a multi-line value.
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    const shown = await skunq('jobs', 'show', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toMatch(raw);
    expect(shown.stdout).toContain('job evil\\x1b[31m\\nfake-row\\x9b "noisy"');
    expect(shown.stdout).toContain('error: click \\x1b]8;;https://evil.example\\x07here\\x1b]8;;\\x07 \\x1b[2J\\x9b31m red\\x7f\\r\n');
    expect(shown.stdout).toContain('[log] click \\x1b]8;;https://evil.example');
    // Multi-line values keep their second line, indented: the error, the log line, and the attempt's log line.
    expect(shown.stdout.split('\n').filter((line) => /^\s+second line$/.test(line))).toHaveLength(3);
    const listed = await skunq('jobs', 'list', '--name', 'noisy');
    expect(listed.stdout).not.toMatch(raw);
    expect(listed.stdout).toContain('evil\\x1b[31m\\nfake-row\\x9b');
    expect(listed.stdout.split('\n').some((line) => line.startsWith('fake-row'))).toBe(false);
    const json = await skunq('jobs', 'show', id, '--json');
    expect(json.stdout).not.toMatch(raw);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, deliveries: [{ error: { message: hostile } }] });
    const missing = await skunq('jobs', 'remove', 'gone\u001b[2J\u009b');
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('gone\\x1b[2J\\x9b') });
    expect(missing.stderr).not.toMatch(raw);
    // Refusals quote what they refuse, escaped too.
    const refused = await skunq('pause', '-r', 'r\u001b]0;title\u0007');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('[ARGS_INVALID] invalid route r\\x1b]0;title\\x07') });
    expect(refused.stderr).not.toMatch(raw);
  });

  it('addresses ids that start with "-" after --, and says so when one is taken for an option', async () => {
    // Core refuses such ids at fire now; a job stored before that (or by another client) must stay reachable.
    const backend = await queue.backend();
    await backend.enqueue([newJob('ops', { id: '-abc', name: 'sentinel', routes: ['bar'], runAt: Date.now() + 3_600_000 })]);
    const ops = (...args: string[]) => runCliProcess(args, env);
    const mistaken = await ops('jobs', 'show', '-abc', '-q', 'ops');
    expect(mistaken).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown option -abc (an id that starts with "-" goes after --: skunq jobs show -- -abc)') });
    const shown = await ops('jobs', 'show', '-q', 'ops', '--', '-abc');
    expect(shown).toMatchObject({ code: 0, stdout: expect.stringContaining('job -abc "sentinel" in queue ops: ') });
    expect(JSON.parse((await ops('jobs', 'show', '--json', '-q', 'ops', '--', '-abc')).stdout)).toMatchObject({ id: '-abc' });
    expect(await ops('jobs', 'remove', '-q', 'ops', '--', '-abc')).toMatchObject({ code: 0, stdout: 'removed job -abc\n' });
    expect(await backend.getJob('ops', '-abc')).toBeNull();
    expect(await ops('workers', 'pause', '-q', 'ops', '--', '-w')).toMatchObject({ code: 1, stderr: expect.stringContaining('[WORKER_NOT_FOUND] no live worker "-w"') });
    expect(await ops('schedule', 'remove', '-q', 'ops', '--', '-s')).toMatchObject({ code: 1, stderr: expect.stringContaining('schedule "-s" not found') });
    // One id, once: an id both before and after --, or two after it, is a usage error.
    expect(await ops('jobs', 'show', 'a', '-q', 'ops', '--', '-abc')).toMatchObject({ code: 2, stderr: expect.stringContaining('one id') });
    expect(await ops('jobs', 'show', '-q', 'ops', '--', '-a', '-b')).toMatchObject({ code: 2, stderr: expect.stringContaining('one id') });
  });

  it('skunq work --metrics-port serves Prometheus text on loopback', async () => {
    const proc = startCli(['work', '-q', 'ops', '-r', 'bar', '-f', JOBS, '--metrics-port', '0'], env);
    running.push(proc);
    await proc.waitFor('listening');
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(proc.stdout())![1]!;
    await jobs.sentinel.fire().then((h) => h.result({ timeoutMs: 10_000 }));
    await expect(jobs.broken.fire('for the counter').then((h) => h.result({ timeoutMs: 10_000 }))).rejects.toMatchObject({ code: 'JOB_FAILED' });
    const text = await eventually(async () => {
      const body = await (await fetch(url)).text();
      return body.includes('skunq_jobs_failed_total{queue="ops",route="bar",outcome="failed"} 1') && body;
    }, 'the failure in the metrics');
    expect(text).toContain('skunq_jobs_completed_total{queue="ops",route="bar"} 1');
    expect(text).toContain('skunq_jobs_running{queue="ops",route="bar"} 0');
    expect(text).toMatch(/skunq_job_duration_seconds_count\{queue="ops",route="bar",outcome="succeeded"\} 1/);
    expect((await fetch(url.replace('/metrics', '/admin'))).status).toBe(404);
  });

  it('ctx.progress in a tight loop is coalesced, and the last report is kept', async () => {
    await worker('bar');
    const seen: unknown[] = [];
    const off = await queue.on('progress', (event) => seen.push(event.data));
    const handle = await jobs.counting.fire(100_000);
    expect(await handle.result({ timeoutMs: 10_000 })).toBe(100_000);
    expect(await handle.progress()).toEqual({ done: 100_000, of: 100_000 });
    await eventually(() => seen.some((data) => (data as { done: number }).done === 100_000), 'the last progress event');
    // 100,000 reports, a handful of writes: one per 100 ms at most, and the last.
    expect(seen.length).toBeLessThan(100);
    await off();
  });
});
