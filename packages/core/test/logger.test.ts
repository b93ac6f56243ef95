import { afterEach, describe, expect, it, vi } from 'vitest';
import { SkqError, consoleLogger, createConsoleLogger, formatLogLine } from '@skq/core';
import { LoggerSchema } from '@skq/core/backend';

function reportFailure(): SkqError {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  return new SkqError('BACKEND_UNAVAILABLE', 'redis went away', { cause: refused, context: { queue: 'demo', jobId: 'j1', operation: 'complete' } });
}

describe('the default logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one line: level, message, the ids, and the error with its code, context and cause', () => {
    const line = formatLogLine('warn', { queue: 'demo', route: 'r', jobId: 'j1', workerId: 'host:1:r:abc', err: reportFailure() }, 'could not report job j1');
    // The context's queue and jobId repeat the line's own fields: only what they do not say is kept.
    expect(line).toBe(
      '[skunq] warn: could not report job j1 queue=demo route=r jobId=j1 workerId=host:1:r:abc ' +
        'err="[BACKEND_UNAVAILABLE] redis went away" err.context={"operation":"complete"} err.cause="[ECONNREFUSED] connect ECONNREFUSED 127.0.0.1:6379"',
    );
  });

  it('keeps a line one line: values with spaces, quotes or newlines are quoted, stacks are left out', () => {
    const err = new SkqError('JOB_FAILED', 'bad\ninput "x"', { cause: new SkqError('ARGS_INVALID', 'inner', { cause: new TypeError('deepest') }) });
    const line = formatLogLine('info', { jobId: 'a b', attempts: 3, paused: false, ids: ['x', 'y'], none: undefined, err }, 'note');
    expect(line).toBe('[skunq] info: note jobId="a b" attempts=3 paused=false ids=["x","y"] err="[JOB_FAILED] bad\\ninput \\"x\\"" err.cause="[ARGS_INVALID] inner; caused by TypeError: deepest"');
    expect(line).not.toContain('\n');
  });

  it('describes anything thrown, and a cause that loops, without throwing', () => {
    expect(formatLogLine('warn', { err: 'plain text' }, 'thrown')).toBe('[skunq] warn: thrown err="plain text"');
    const looped = new Error('one');
    (looped as { cause?: unknown }).cause = looped;
    expect(formatLogLine('warn', { err: looped }, 'loop')).toBe('[skunq] warn: loop err=one');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(formatLogLine('warn', { odd: cyclic }, 'cyclic')).toBe('[skunq] warn: cyclic odd="[object Object]"');
  });

  it('adds the stacks of the error and its causes under the line when asked', () => {
    const err = reportFailure();
    const [first, ...rest] = formatLogLine('warn', { err }, 'with stacks', { stacks: true }).split('\n');
    expect(first).toBe('[skunq] warn: with stacks err="[BACKEND_UNAVAILABLE] redis went away" err.context={"queue":"demo","jobId":"j1","operation":"complete"} err.cause="[ECONNREFUSED] connect ECONNREFUSED 127.0.0.1:6379"');
    const stacks = rest.join('\n');
    expect(stacks).toMatch(/^ {4}SkqError: redis went away\n {8}at reportFailure/);
    expect(stacks).toContain('\n    caused by: Error: connect ECONNREFUSED 127.0.0.1:6379\n        at reportFailure');
  });

  it('writes warnings to console.warn and the rest to console.info, one call per event', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    consoleLogger.warn({ queue: 'demo', err: reportFailure() }, 'could not report');
    consoleLogger.info({ workerId: 'w1' }, 'worker w1 obeys "pause"');
    expect(warn.mock.calls).toEqual([[formatLogLine('warn', { queue: 'demo', err: reportFailure() }, 'could not report')]]);
    expect(info.mock.calls).toEqual([['[skunq] info: worker w1 obeys "pause" workerId=w1']]);
    createConsoleLogger({ stacks: true }).warn({ err: new Error('boom') }, 'stacked');
    expect(warn.mock.calls[1]![0]).toMatch(/^\[skunq\] warn: stacked err=boom\n {4}Error: boom\n {8}at /);
  });

  it('is a logger option, as pino-shaped objects are', () => {
    expect(LoggerSchema.safeParse(consoleLogger).success).toBe(true);
    expect(LoggerSchema.safeParse({ warn() {}, info() {} }).success).toBe(true);
    expect(LoggerSchema.safeParse({ warn() {} }).success).toBe(false);
  });
});
