// `skunq work` under faults: handlers that misbehave, modules that fail to load, signals during start-up.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue, isSkqError } from '@skq/core';
import { type CliProcess, type RedisServer, eventually, freePort, missingServer, runCliProcess, startCli, startRedis, stopAll } from '@skq/testing';

const dir = mkdtempSync(join(tmpdir(), 'skq-cli-faults-'));
const backend = `sqlite:${join(dir, 'faults.db')}`;
const env = { SKQ_BACKEND: backend };
const FIXTURES = 'apps/cli/test/fixtures/faults';
const running: CliProcess[] = [];
let jobs: typeof import('./fixtures/faults/misbehaving-jobs.js');

const start = (args: string[], extraEnv: Record<string, string> = {}) => {
  const proc = startCli(args, { ...env, ...extraEnv });
  running.push(proc);
  return proc;
};

/** The error a job ended with, as `handle.result()` rejects. */
async function failureOf(handle: { result(o: { timeoutMs: number }): Promise<unknown> }): Promise<{ code: string; message: string }> {
  try {
    await handle.result({ timeoutMs: 20_000 });
  } catch (err) {
    if (isSkqError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the job succeeded');
}

beforeAll(async () => {
  process.env.SKQ_BACKEND = backend;
  jobs = await import('./fixtures/faults/misbehaving-jobs.js');
});
afterEach(async () => {
  await stopAll(running);
});
afterAll(async () => {
  await jobs.queue.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('skunq work under faults', () => {
  it('fails the job an escaped error came from, names it, and keeps the worker and its other jobs alive', async () => {
    const worker = start(['work', '-q', 'faults', '-r', 'r', '-c', '4', '-f', `${FIXTURES}/misbehaving-jobs.ts`]);
    await worker.waitFor('listening');
    const [stray, timer, hostile, ok] = await Promise.all([jobs.strayRejection.fire(), jobs.timerThrow.fire(), jobs.hostileError.fire(), jobs.double.fire(21)]);
    expect(await ok!.result({ timeoutMs: 20_000 })).toBe(42);
    expect(await failureOf(stray!)).toMatchObject({ code: 'JOB_FAILED', message: expect.stringContaining('a rejection nobody awaited') });
    expect(await failureOf(timer!)).toMatchObject({ code: 'JOB_FAILED', message: expect.stringContaining('thrown inside a timer') });
    expect(await failureOf(hostile!)).toMatchObject({ code: 'JOB_FAILED' });
    expect(worker.child.exitCode).toBeNull();
    // The same process goes on taking work.
    expect(await (await jobs.double.fire(5)).result({ timeoutMs: 20_000 })).toBe(10);
    const log = worker.stdout() + worker.stderr();
    expect(log).toContain(`escaped job "stray-rejection" ${stray!.id}`);
    expect(log).toContain(`escaped job "timer-throw" ${timer!.id}`);
    // One line per warning, with the job's ids and the error as meta, control characters escaped.
    const line = log.split('\n').find((l) => l.includes(`escaped job "stray-rejection" ${stray!.id}`));
    expect(line).toContain(`(attempt 1); the attempt fails with it queue=faults jobId=${stray!.id} deliveryId=`);
    expect(line).toMatch(/ jobName=stray-rejection attempt=1 origin="unhandled rejection" err="a rejection nobody awaited \\u001b\[2J\\x9b31m"$/);
    expect(log).not.toMatch(/[\u001b\u009b]/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('goes on working when whoever read its output went away: a line to a closed stdout or stderr fails no job', async () => {
    const worker = start(['work', '-q', 'faults', '-r', 'r', '-f', `${FIXTURES}/misbehaving-jobs.ts`]);
    await worker.waitFor('listening');
    // The reader of its output goes, as when the process that started it is killed: the lines it writes next fail with EPIPE.
    worker.child.stdout!.destroy();
    worker.child.stderr!.destroy();
    expect(await (await jobs.talkative.fire()).result({ timeoutMs: 20_000 })).toBe('said it');
    // The warning about a failed write failed the same way and warned again, a loop that starved the process: it still takes work.
    expect(await (await jobs.talkative.fire()).result({ timeoutMs: 20_000 })).toBe('said it');
    expect(await (await jobs.double.fire(5)).result({ timeoutMs: 20_000 })).toBe(10);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('obeys a SIGTERM that arrives while the job modules are still loading, and claims nothing', async () => {
    const barrier = mkdtempSync(join(dir, 'barrier-'));
    const queue = new SkunkQueue('startup', { backend });
    const touch = queue.job({ name: 'touch', routes: ['r'] }, async () => 'ran');
    const handle = await touch.fire();
    const worker = start(['work', '-q', 'startup', '-r', 'r', '-f', `${FIXTURES}/slow-to-load.ts`], { SKQ_TEST_BARRIER: barrier });
    await eventually(() => existsSync(join(barrier, 'loading')), 'the module to start loading', 20_000);
    worker.child.kill('SIGTERM');
    writeFileSync(join(barrier, 'go'), '');
    expect(await worker.exited).toBe(0);
    expect(worker.stdout()).toContain('stopped on SIGTERM');
    expect((await queue.getRecord(handle.id))?.state).toBe('queued');
    await queue.close();
  });

  it('reports a module that throws null without a stack trace, and one that never finishes loading', async () => {
    const thrown = await runCliProcess(['work', '-q', 'faults', '-r', 'r', '-f', `${FIXTURES}/throws-null.ts`], env);
    expect(thrown.code).toBe(2);
    expect(thrown.stderr).toContain('could not load');
    expect(thrown.stderr).toContain('throws-null.ts: null');
    expect(thrown.stderr).not.toMatch(/\n\s+at /);
    const hung = await runCliProcess(['work', '-q', 'faults', '-r', 'r', '-f', `${FIXTURES}/never-settles.ts`], env);
    expect(hung.code).toBe(13);
    expect(hung.stderr).toContain('never-settles.ts never finished loading');
  });

  it('prints the usage with a pool option it refuses, and an empty SKQ_BACKEND is refused', async () => {
    const lease = await runCliProcess(['work', '-q', 'faults', '-r', 'r', '--lease-ms', '1e10'], env);
    expect(lease).toMatchObject({ code: 2, stderr: expect.stringContaining('leaseMs') });
    expect(lease.stderr).toContain('Usage: skunq work');
    const prefetch = await runCliProcess(['work', '-q', 'faults', '-r', 'r', '--prefetch', 'lots'], env);
    expect(prefetch).toMatchObject({ code: 2, stderr: expect.stringContaining('--prefetch must be auto or a whole number from 0 to 1000, got "lots"') });
    const empty = await runCliProcess(['work', '-q', 'faults', '-r', 'r'], { SKQ_BACKEND: '' });
    expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining('SKQ_BACKEND is set but empty') });
  });

  it('refuses skunq web options that would open the monitor wider than asked', async () => {
    const open = await runCliProcess(['web', '--host', '0.0.0.0', '--port', '0'], { ...env, SKQ_WEB_TOKEN: '' });
    expect(open).toMatchObject({ code: 2, stderr: expect.stringContaining('refusing to listen on 0.0.0.0 without a token') });
    const short = await runCliProcess(['web', '--token', 'short', '--port', '0'], env);
    expect(short).toMatchObject({ code: 2, stderr: expect.stringContaining('token: must be at least 16 characters') });
    const port = await runCliProcess(['web', '--port', '99999'], env);
    expect(port).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be a port number') });
  });

  it('names a shell task working directory that does not exist', async () => {
    const worker = start(['work', '-q', 'faults', '-r', 'r', '--allow-shell']);
    await worker.waitFor('listening');
    const handle = await jobs.queue.shell('printf x', {}, { routes: ['r'], cwd: join(dir, 'no-such-dir') });
    expect(await failureOf(handle)).toMatchObject({ message: expect.stringContaining(`working directory ${join(dir, 'no-such-dir')} does not exist`) });
  });
});

const noRedis = missingServer('redis-server', 'apt-get install redis-server');

describe.skipIf(noRedis)(`skunq work and skunq web started before their server ${noRedis ?? ''}`, () => {
  const servers: RedisServer[] = [];
  afterEach(async () => {
    await stopAll(running);
    for (const server of servers.splice(0)) {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    }
  });
  /** A loopback URL on a port nothing listens on yet. */
  const notYetUp = async () => {
    const port = await freePort();
    return { port, url: `redis://127.0.0.1:${port}` };
  };
  const waits = (proc: CliProcess) => proc.stdout().split('\n').filter((line) => line.includes('is not answering'));

  it('skunq work waits for a Redis that starts later, one line per wait, then serves', async () => {
    const { port, url } = await notYetUp();
    const worker = start(['work', '-q', 'waits', '-r', 'r'], { SKQ_BACKEND: url });
    await worker.waitFor('is not answering');
    servers.push(await startRedis({ port }));
    await worker.waitFor('listening on queue "waits"');
    const lines = waits(worker);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) expect(line).toMatch(new RegExp(`^skunq: backend ${url} is not answering \\(.+\\); trying again in \\d+\\.\\d s$`));
    const queue = new SkunkQueue('waits', { backend: url });
    await eventually(async () => (await queue.workers()).some((w) => w.pid === worker.child.pid), 'the worker to register');
    await queue.close();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('skunq work gives up after --connect-timeout with BACKEND_UNAVAILABLE, and a bad value or URL still exits 2 at once', async () => {
    const { url } = await notYetUp();
    const started = Date.now();
    const gaveUp = await runCliProcess(['work', '-q', 'waits', '-r', 'r', '--connect-timeout', '1500ms'], { SKQ_BACKEND: url });
    expect(gaveUp).toMatchObject({ code: 1, stderr: expect.stringContaining(`[BACKEND_UNAVAILABLE] backend ${url} did not answer within --connect-timeout 1500 ms: `) });
    expect(gaveUp.stdout).toContain('is not answering');
    expect(Date.now() - started).toBeLessThan(15_000);
    const badValue = await runCliProcess(['work', '-q', 'waits', '-r', 'r', '--connect-timeout', 'soon'], { SKQ_BACKEND: url });
    expect(badValue).toMatchObject({ code: 2, stderr: expect.stringContaining('--connect-timeout takes ms or a duration such as 30s, 15m, 12h or 7d, got "soon"') });
    const badUrl = await runCliProcess(['work', '-q', 'waits', '-r', 'r'], { SKQ_BACKEND: 'nosuch://x' });
    expect(badUrl).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown backend scheme "nosuch:"') });
    expect(badUrl.stdout).not.toContain('is not answering');
  });

  it('skunq work exits at once on SIGTERM (0) or SIGINT (130) while it waits', async () => {
    const { url } = await notYetUp();
    for (const [signal, code] of [['SIGTERM', 0], ['SIGINT', 130]] as const) {
      const worker = start(['work', '-q', 'waits', '-r', 'r'], { SKQ_BACKEND: url });
      await worker.waitFor('is not answering');
      const sent = Date.now();
      worker.child.kill(signal);
      expect(await worker.exited).toBe(code);
      expect(Date.now() - sent).toBeLessThan(2_000);
      expect(worker.stdout()).toContain(`stopped on ${signal}`);
    }
  });

  it('skunq web waits for its server the same way, and gives up after --connect-timeout', async () => {
    const { port, url } = await notYetUp();
    const web = start(['web', '--port', '0', '-b', url]);
    await web.waitFor('skunq web: backend');
    servers.push(await startRedis({ port }));
    await web.waitFor('monitor of');
    expect(waits(web)[0]).toMatch(new RegExp(`^skunq web: backend ${url} is not answering \\(.+\\); trying again in \\d+\\.\\d s$`));
    web.child.kill('SIGINT');
    expect(await web.exited).toBe(130);
    const other = await notYetUp();
    const gaveUp = await runCliProcess(['web', '--port', '0', '-b', other.url, '--connect-timeout', '1s']);
    expect(gaveUp).toMatchObject({ code: 1, stderr: expect.stringContaining(`[BACKEND_UNAVAILABLE] backend ${other.url} did not answer within --connect-timeout 1000 ms`) });
    const waiting = start(['web', '--port', '0', '-b', other.url]);
    await waiting.waitFor('is not answering');
    waiting.child.kill('SIGTERM');
    expect(await waiting.exited).toBe(0);
    expect(waiting.stdout()).toContain('skunq web: stopped on SIGTERM');
  });
});
