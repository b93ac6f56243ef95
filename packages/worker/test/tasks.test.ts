import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { commandArgv } from '@skq/core/backend';
import type { WorkerPoolOptions } from '@skq/worker';
import { writeModuleTree } from './fixtures/module-tree.js';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('tasks');
const dir = fixture.dir;

async function setup(options: Partial<WorkerPoolOptions> = {}) {
  const queue = fixture.queue();
  await fixture.startPool({ queue, routes: ['ops'], pollIntervalMs: 100, ...options });
  return queue;
}

const failure = (promise: Promise<unknown>) => promise.then(() => null, (err: unknown) => err as SkqError);

describe('shell tasks', () => {
  it('fills placeholders inside words, never through a shell', () => {
    expect(commandArgv('id {name}', { name: 'root' })).toEqual(['id', 'root']);
    expect(commandArgv(`printf '%s|' {a} "b c" --x={n}`, { a: "'; rm -rf /tmp/x", n: 3 })).toEqual(['printf', '%s|', "'; rm -rf /tmp/x", 'b c', '--x=3']);
    expect(() => commandArgv('echo {missing}', {})).toThrowError(expect.objectContaining({ code: 'ARGS_INVALID', context: { field: 'missing' } }));
    expect(() => commandArgv('   ', {})).toThrowError(expect.objectContaining({ code: 'ARGS_INVALID' }));
  });

  it('passes hostile values as plain arguments and captures exit code, stdout and stderr', async () => {
    const queue = await setup({ allowShell: true });
    const canary = join(dir, 'canary');
    const hostile = [`; touch ${canary}`, `$(touch ${canary})`, `\`touch ${canary}\``, `&& touch ${canary}`, `'; rm -rf /tmp/x'`];
    for (const value of hostile) {
      const handle = await queue.shell('echo {value}', { value }, { routes: ['ops'] });
      expect(await handle.result({ timeoutMs: 10_000 })).toEqual({ exitCode: 0, stdout: `${value}\n`, stderr: '' });
      expect((await handle.logs()).map((l) => l.line)).toEqual([`stdout: ${value}`]);
    }
    expect(existsSync(canary)).toBe(false);
  });

  it('fails with COMMAND_FAILED and the exit code when the command fails', async () => {
    const queue = await setup({ allowShell: true });
    const handle = await queue.shell('{node} -e {code}', { node: process.execPath, code: "process.stderr.write('bad input'); process.exit(3)" }, { routes: ['ops'] });
    const err = await failure(handle.result({ timeoutMs: 10_000 }));
    expect(err).toMatchObject({ code: 'JOB_FAILED', context: { remoteCode: 'COMMAND_FAILED' }, message: expect.stringContaining('exited with code 3: bad input') });
    expect((await handle.logs()).map((l) => l.line)).toContain('stderr: bad input');
  });

  it('is refused unless the worker allows it, without retries', async () => {
    const queue = await setup();
    const handle = await queue.shell('id', {}, { routes: ['ops'], retry: 5 });
    const err = await failure(handle.result({ timeoutMs: 10_000 }));
    expect(err).toMatchObject({ context: { remoteCode: 'FORBIDDEN' } });
    expect((await handle.info()).attempts).toBe(1);
  });
});

describe('module tasks', () => {
  const { allowed } = writeModuleTree(dir);

  it('calls an export of a module in an allowed directory', async () => {
    const queue = await setup({ modules: { allow: [allowed], baseDir: dir } });
    expect(await (await queue.call('./workers/tasks.mjs:double', [21], { routes: ['ops'] })).result({ timeoutMs: 10_000 })).toBe(42);
  });

  it('refuses modules outside the allowed directories, also through a symbolic link', async () => {
    const queue = await setup({ modules: { allow: [allowed], baseDir: dir } });
    for (const target of ['./elsewhere/evil.mjs:run', './workers/link.mjs:run', './workers/../elsewhere/evil.mjs:run']) {
      const err = await failure((await queue.call(target, [], { routes: ['ops'] })).result({ timeoutMs: 10_000 }));
      expect(err).toMatchObject({ context: { remoteCode: 'FORBIDDEN' } });
    }
    const missing = await failure((await queue.call('./workers/tasks.mjs:notAFunction', [], { routes: ['ops'] })).result({ timeoutMs: 10_000 }));
    expect(missing).toMatchObject({ context: { remoteCode: 'UNKNOWN_JOB' } });
  });

  it('is refused when the worker allows no module directory, and bad targets are refused at call', async () => {
    const queue = await setup();
    const err = await failure((await queue.call('./workers/tasks.mjs:double', [1], { routes: ['ops'] })).result({ timeoutMs: 10_000 }));
    expect(err).toMatchObject({ context: { remoteCode: 'FORBIDDEN' } });
    await expect(queue.call('no-export-part', [], { routes: ['ops'] })).rejects.toMatchObject({ code: 'ARGS_INVALID' });
    expect(() => queue.job({ name: 'skq.mine', routes: ['ops'] }, () => 1)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
