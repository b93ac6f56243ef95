// Property tests of the shell-task and module-task guards on a fixed seed: a fuzzed value is always one
// plain argument, never shell syntax, and a fuzzed module path runs code only from an allowed directory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { commandArgv } from '@skq/core/backend';
import { writeModuleTree } from './fixtures/module-tree.js';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const SEED = 20_261_125;
const fixture = sqliteQueues('task-guards');
const dir = fixture.dir;
const canary = join(dir, 'canary');

/** Text a shell would act on: separators, substitutions, quotes, globs, redirections, newlines. */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(';', '&&', '|', '`', '$(', ')', '${IFS}', '"', "'", '\\', '\n', '*', '>', '<', '#', '~', ' ', '{x}', '%s').chain((meta) =>
    fc.tuple(fc.string({ maxLength: 5 }), fc.constant(meta), fc.constant(`touch ${canary}`), fc.string({ maxLength: 5 })).map((parts) => parts.join('')),
  ),
);

describe('shell-task guard, fuzzed', () => {
  it('turns any template into argv, or refuses it with ARGS_INVALID; a placeholder word is exactly its value', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), hostile, (template, value) => {
        try {
          const argv = commandArgv(template, { v: value });
          expect(argv.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(SkqError);
          expect((err as SkqError).code).toBe('ARGS_INVALID');
        }
        // The same value in a word of its own is that word, whole.
        if (!value.includes('\0')) expect(commandArgv('cmd {v} --flag={v}', { v: value })).toEqual(['cmd', value, `--flag=${value}`]);
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });

  it('hands hostile values to the command as plain arguments: nothing of them runs', async () => {
    const queue = fixture.queue();
    await fixture.startPool({ queue, routes: ['ops'], allowShell: true, pollIntervalMs: 100 });
    const print = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
    await fc.assert(
      fc.asyncProperty(hostile, hostile, async (a, b) => {
        const values = { node: process.execPath, code: print, a, b };
        const accepted = await queue.shell('{node} -e {code} {a} x{b}y', values, { routes: ['ops'] }).catch((err: unknown) => err);
        if (accepted instanceof SkqError) {
          expect(accepted.code).toBe('ARGS_INVALID'); // a NUL, which no argument can hold
          return;
        }
        const result = (await (accepted as { result(o: object): Promise<{ stdout: string }> }).result({ timeoutMs: 10_000 })) as { stdout: string };
        expect(JSON.parse(result.stdout)).toEqual([a, `x${b}y`]);
        expect(existsSync(canary)).toBe(false);
      }),
      { seed: SEED, numRuns: 25 },
    );
  });
});

describe('module-task guard, fuzzed', () => {
  const { allowed } = writeModuleTree(dir);

  const segment = fc.constantFrom('.', '..', 'workers', 'elsewhere', 'door', 'tasks.mjs', 'evil.mjs', 'link.mjs', '%2e%2e', '', dir.slice(1), 'node_modules');
  const target = fc
    .tuple(fc.constantFrom('./', '/', '', 'file://', 'node:', '../'), fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom('double', 'run', 'constructor', '__proto__', 'default'))
    .map(([start, parts, name]) => `${start}${parts.join('/')}:${name}`);

  it('runs only exports of modules inside the allowed directory, whatever the path', async () => {
    const queue = fixture.queue();
    await fixture.startPool({ queue, routes: ['ops'], modules: { allow: [allowed], baseDir: dir }, pollIntervalMs: 100 });
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        const handle = await queue.call(t, [21], { routes: ['ops'] }).catch((err: unknown) => err);
        if (handle instanceof SkqError) {
          expect(handle.code).toBe('ARGS_INVALID');
          return;
        }
        const outcome = await (handle as { result(o: object): Promise<unknown> }).result({ timeoutMs: 10_000 }).then(
          (value) => ({ value }),
          (err: SkqError) => ({ code: err.context.remoteCode }),
        );
        expect(outcome, t).not.toEqual({ value: 'escaped' });
        if ('value' in outcome) expect(outcome.value).toBe(42);
        else expect(['FORBIDDEN', 'UNKNOWN_JOB', 'ARGS_INVALID'], `${t}: ${String(outcome.code)}`).toContain(outcome.code);
      }),
      { seed: SEED, numRuns: 60 },
    );
    // Found by this property: a path naming a directory failed with node's ERR_MODULE_NOT_FOUND.
    const err = await (await queue.call('./workers/elsewhere:double', [1], { routes: ['ops'] })).result({ timeoutMs: 10_000 }).catch((e: SkqError) => e);
    expect(err).toMatchObject({ context: { remoteCode: 'UNKNOWN_JOB' } });
  });
});
