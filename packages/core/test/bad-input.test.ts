// Regression tests for defects found by feeding the public API what a careless or hostile caller would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AIMDScheduler, JobMixin, RateLimited, RetryAfter, SkqError, SkunkQueue, TimeScheduler } from '@skq/core';

const dir = mkdtempSync(join(tmpdir(), 'skq-bad-input-'));
const backend = `sqlite:${join(dir, 'bad.db')}`;
const queue = new SkunkQueue('bad-input', { backend });
afterAll(async () => {
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The code and field of the SkqError `fn` throws or rejects with, or what else happened. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err instanceof SkqError ? { code: err.code, field: err.context.field } : { notSkqError: String(err) };
  }
  return 'did not throw';
}

describe('RetryAfter', () => {
  it('refuses NaN, Infinity, negative and absurd delays with ARGS_INVALID', async () => {
    for (const bad of [NaN, Infinity, -1, RetryAfter.MAX_DELAY_MS + 1, '5' as unknown as number]) {
      expect(await failure(() => new RetryAfter(bad))).toEqual({ code: 'ARGS_INVALID', field: 'delayMs' });
    }
    expect(new RetryAfter(1_500.4).delayMs).toBe(1_500);
  });
});

describe('groups and limits', () => {
  it('refuses bad group keys, group functions and limits with a typed error naming the field', async () => {
    for (const bad of [NaN, -1, RetryAfter.MAX_DELAY_MS + 1]) expect(await failure(() => new RateLimited(bad))).toEqual({ code: 'ARGS_INVALID', field: 'delayMs' });
    expect(new RateLimited(250)).toBeInstanceOf(RetryAfter);
    const job = queue.job({ name: 'grouped', routes: ['r'] }, async (_n: number) => 1);
    for (const group of ['', '*', 'x'.repeat(257), 42 as unknown as string]) {
      expect(await failure(() => job.fireWith({ group }, 1))).toEqual({ code: 'ARGS_INVALID', field: 'options.group' });
    }
    expect(await failure(() => queue.job({ name: 'g1', routes: ['r'], group: 7 as unknown as string }, async () => 1))).toEqual({ code: 'CONFIG_INVALID', field: 'group' });
    const throws = queue.job({ name: 'g2', routes: ['r'], group: () => { throw new Error('no tenant'); } }, async () => 1);
    expect(await failure(() => throws.fire())).toEqual({ code: 'ARGS_INVALID', field: 'group' });
    const empty = queue.job({ name: 'g3', routes: ['r'], group: () => '' }, async () => 1);
    expect(await failure(() => empty.fire())).toEqual({ code: 'ARGS_INVALID', field: 'group' });
    for (const limits of [{}, { concurrency: -1 }, { concurrency: 1.5 }, { rate: { max: 0, perMs: 1_000 } }, { rate: { max: 10 } }, { burst: 3 }]) {
      expect(await failure(() => queue.setGroupLimits('g', limits as never))).toMatchObject({ code: 'ARGS_INVALID' });
    }
    expect(await failure(() => queue.setGroupLimits('', { concurrency: 1 }))).toEqual({ code: 'ARGS_INVALID', field: 'group' });
    expect(await failure(() => queue.setRouteLimits('r', { concurrency: 2 } as never))).toMatchObject({ code: 'ARGS_INVALID' });
    expect(await failure(() => queue.setRouteLimits(undefined as never, { rate: { max: 1, perMs: 1 } }))).toEqual({ code: 'ARGS_INVALID', field: 'route' });
    expect(await failure(() => queue.groups({ limit: 0 }))).toMatchObject({ code: 'ARGS_INVALID' });
    const everyone = new SkunkQueue('bad-input-broadcast', { backend, type: 'broadcast' });
    const reload = everyone.job({ name: 'reload', routes: ['r'] }, async () => 1);
    expect(await failure(() => reload.fireWith({ group: 'g' }))).toEqual({ code: 'ARGS_INVALID', field: 'options.group' });
    await everyone.close();
    // Nothing bad was stored.
    expect(await queue.groups()).toEqual({ groups: [], cursor: null });
  });

  it('stores the group a job definition computes from the arguments, unless the fire names another', async () => {
    const job = queue.job({ name: 'per-tenant', routes: ['r'], group: (tenant: string) => `tenant-${tenant}` }, async (_tenant: string) => 1);
    const computed = await job.fire('7');
    const named = await job.fireWith({ group: 'vip' }, '8');
    expect((await queue.getRecord(computed.id))?.group).toBe('tenant-7');
    expect((await queue.getRecord(named.id))?.group).toBe('vip');
    const plain = queue.job({ name: 'plain', routes: ['r'] }, async () => 1);
    expect((await queue.getRecord((await plain.fire()).id))?.group).toBeUndefined();
  });
});

describe('timers that Node would overflow', () => {
  it('refuses timeouts of 2^31 ms or more, and JobMixin timeouts that are not positive integers', async () => {
    expect(await failure(() => queue.job({ name: 'slow', routes: ['r'], timeout: 30 * 86_400_000 }, async () => 1))).toEqual({ code: 'CONFIG_INVALID', field: 'timeout' });
    class Bad extends JobMixin {
      override routes = ['r'];
      work() {}
    }
    for (const timeout of [-1, 'abc', 2 ** 31, 1.5]) {
      const job = Object.assign(new Bad(), { timeout });
      expect(await failure(() => job.with())).toEqual({ code: 'CONFIG_INVALID', field: 'timeout' });
    }
    expect(await failure(() => queue.shell('true', {}, { routes: ['r'], timeout: 2 ** 31 }))).toEqual({ code: 'CONFIG_INVALID', field: 'timeout' });
  });

  it('refuses schedule intervals and delays beyond 100 years', async () => {
    const tick = queue.job({ name: 'tick', routes: ['r'] }, async () => 1);
    expect(await failure(() => queue.schedule('far', tick.with(), { every: { days: 1e8 } }))).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(await failure(() => queue.schedule('never', tick.with(), { every: { days: 1e308 } }))).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(await failure(() => tick.fireAt({ days: 1e308 }))).toMatchObject({ code: 'ARGS_INVALID' });
  });
});

describe('arguments that pass at fire must pass on the worker', () => {
  it('refuses a schema the JSON form fails (z.date()), at fire', async () => {
    const at = queue.job({ name: 'at-date', routes: ['r'], args: z.tuple([z.date()]) }, async (d) => d.toISOString());
    expect(await failure(() => at.fire(new Date()))).toEqual({ code: 'ARGS_INVALID', field: 'args.0' });
    const coerced = queue.job({ name: 'at-coerced', routes: ['r'], args: z.tuple([z.coerce.date()]) }, async (d) => d.toISOString());
    const handle = await coerced.fire(new Date(0));
    expect((await queue.getRecord(handle.id))?.args).toEqual(['1970-01-01T00:00:00.000Z']);
  });

  it('drops trailing undefined arguments, and refuses an undefined the schema cannot take as null', async () => {
    const opt = queue.job({ name: 'optional', routes: ['r'], args: z.tuple([z.number(), z.number().optional()]) }, async (a, b) => a + (b ?? 0));
    const handle = await opt.fire(1, undefined);
    expect((await queue.getRecord(handle.id))?.args).toEqual([1]);
    const mid = queue.job({ name: 'middle', routes: ['r'], args: z.tuple([z.number().optional(), z.number()]) }, async (a, b) => (a ?? 0) + b);
    expect(await failure(() => mid.fire(undefined, 2))).toMatchObject({ code: 'ARGS_INVALID' });
  });

  it('refuses NUL in shell values, templates, cwd and env', async () => {
    expect(await failure(() => queue.shell('echo {x}', { x: 'a\0b' }, { routes: ['r'] }))).toEqual({ code: 'ARGS_INVALID', field: 'x' });
    expect(await failure(() => queue.shell('echo a\0b', {}, { routes: ['r'] }))).toEqual({ code: 'ARGS_INVALID', field: 'template' });
    expect(await failure(() => queue.shell('echo', {}, { routes: ['r'], cwd: '/tmp\0x' }))).toEqual({ code: 'CONFIG_INVALID', field: 'cwd' });
    expect(await failure(() => queue.shell('echo', {}, { routes: ['r'], env: { A: 'b\0' } }))).toEqual({ code: 'CONFIG_INVALID', field: 'env' });
  });
});

describe('plain-JavaScript callers get SkqError, not TypeError', () => {
  const add = queue.job({ name: 'add', routes: ['r'] }, async (a: number, b: number) => a + b);
  const cases: [string, () => unknown, string][] = [
    ['queue.shell(5, …)', () => queue.shell(5 as never, {}, { routes: ['r'] }), 'ARGS_INVALID'],
    ['queue.shell(…, "x")', () => queue.shell('echo', 'x' as never, { routes: ['r'] }), 'ARGS_INVALID'],
    ["pushMany('x')", () => queue.pushMany('x' as never), 'ARGS_INVALID'],
    ['pushMany([null])', () => queue.pushMany([null as never]), 'ARGS_INVALID'],
    ['schedule(name, null, …)', () => queue.schedule('s', null as never, { every: { seconds: 1 } }), 'ARGS_INVALID'],
    ['scheduler.add(null)', () => new TimeScheduler(queue, { every: { seconds: 1 } }).add(null as never), 'ARGS_INVALID'],
    ['.and(null)', () => add.with(1, 2).and(null as never), 'ARGS_INVALID'],
    ['new AIMDScheduler(q)', () => new AIMDScheduler(queue, undefined as never), 'CONFIG_INVALID'],
    ["AIMDScheduler name 123", () => new AIMDScheduler(queue, { name: 123 as never, minMs: 1, maxMs: 10, stepMs: 1 }), 'CONFIG_INVALID'],
    ["AIMDScheduler name ''", () => new AIMDScheduler(queue, { name: '', minMs: 1, maxMs: 10, stepMs: 1 }), 'CONFIG_INVALID'],
    ["list({ limit: 'abc' })", () => queue.list({ limit: 'abc' as never }), 'ARGS_INVALID'],
    ["list({ state: 'done' })", () => queue.list({ state: 'done' as never }), 'ARGS_INVALID'],
    ['logs({})', () => queue.logs({} as never), 'ARGS_INVALID'],
    ['sqlite:100%.db', () => new SkunkQueue('x', { backend: 'sqlite:100%.db' }).counts(), 'CONFIG_INVALID'],
  ];
  for (const [what, call, code] of cases) {
    it(what, async () => {
      expect(await failure(call)).toMatchObject({ code });
    });
  }

  it('refuses an empty SKQ_BACKEND with CONFIG_INVALID', async () => {
    const saved = process.env.SKQ_BACKEND;
    process.env.SKQ_BACKEND = '';
    try {
      expect(await failure(() => new SkunkQueue('env'))).toEqual({ code: 'CONFIG_INVALID', field: 'SKQ_BACKEND' });
    } finally {
      if (saved === undefined) delete process.env.SKQ_BACKEND;
      else process.env.SKQ_BACKEND = saved;
    }
  });
});

describe('times: a Date is an instant, a number or { days, … } a duration, anything else is refused', () => {
  const tick = queue.job({ name: 'time-tick', routes: ['r'] }, async () => 1);
  // Objects zod would read as an empty duration ("now", "0 ms ago") if only their shape were checked.
  const notTimes: [string, unknown][] = [
    ['a Map', new Map([['days', 1]])],
    ['a RegExp', /days/],
    ['an invalid Date', new Date(Number.NaN)],
    ['a class instance', new (class Later { days = 1; })()],
    ['a string', 'tomorrow'],
  ];

  it('clean({ olderThan: Date }) deletes only what is older than that instant', async () => {
    const own = new SkunkQueue('bad-input-clean', { backend });
    try {
      const job = own.job({ name: 'clean-me', routes: ['r'] }, async () => 1);
      await job.fire();
      await job.fire();
      expect(await own.clean({ state: 'queued', olderThan: new Date(Date.now() - 7 * 86_400_000) })).toBe(0);
      expect((await own.list({ state: 'queued' })).jobs).toHaveLength(2);
      expect(await own.clean({ state: 'queued', olderThan: new Date(Date.now() + 1_000) })).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('refuses what is neither a duration nor a Date, at every entry point that takes a time', async () => {
    const waiting = await tick.fireAt({ hours: 1 });
    const runAt = (await waiting.info()).deliveries[0]!.runAt;
    const before = (await queue.list({ limit: 1_000 })).jobs.length;
    for (const [what, value] of notTimes) {
      const at = value as never;
      expect({ what, got: await failure(() => tick.fireAt(at)) }).toEqual({ what, got: { code: 'ARGS_INVALID', field: expect.stringMatching(/at/) } });
      expect({ what, got: await failure(() => tick.fireWith({ at })) }).toMatchObject({ what, got: { code: 'ARGS_INVALID' } });
      expect({ what, got: await failure(() => queue.reschedule(waiting.id, at)) }).toEqual({ what, got: { code: 'ARGS_INVALID', field: 'when' } });
      expect({ what, got: await failure(() => queue.clean({ state: 'queued', olderThan: at })) }).toMatchObject({ what, got: { code: 'ARGS_INVALID' } });
      expect({ what, got: await failure(() => queue.schedule('bad-time', tick.with(), { every: at })) }).toMatchObject({ what, got: { code: 'CONFIG_INVALID' } });
      expect({ what, got: await failure(() => queue.schedule('bad-time', tick.with(), { after: at })) }).toMatchObject({ what, got: { code: 'CONFIG_INVALID' } });
      expect({ what, got: await failure(() => new TimeScheduler(queue, { every: at })) }).toMatchObject({ what, got: { code: 'CONFIG_INVALID' } });
    }
    expect((await queue.list({ limit: 1_000 })).jobs.length).toBe(before);
    expect((await waiting.info()).deliveries[0]!.runAt).toBe(runAt);
    expect((await queue.schedules()).map((s) => s.id)).not.toContain('bad-time');
  });

  it('holds Dates to the 100-year bound durations have', async () => {
    const waiting = await tick.fireAt({ hours: 1 });
    const farAhead = new Date(8.64e15); // year 275760, the largest Date
    const longAgo = new Date(-8.64e15);
    expect(await failure(() => tick.fireAt(farAhead))).toEqual({ code: 'ARGS_INVALID', field: 'options.at' });
    expect(await failure(() => tick.fireWith({ at: longAgo }))).toEqual({ code: 'ARGS_INVALID', field: 'options.at' });
    expect(await failure(() => queue.reschedule(waiting.id, farAhead))).toEqual({ code: 'ARGS_INVALID', field: 'when' });
    const inTenYears = new Date(Date.now() + 10 * 365 * 86_400_000);
    await queue.reschedule(waiting.id, inTenYears);
    expect((await waiting.info()).deliveries[0]!.runAt).toBe(inTenYears.getTime());
  });

  it('refuses result and wait timeouts that are not a number of ms, rather than waiting for ever', { timeout: 10_000 }, async () => {
    const waiting = await tick.fireAt({ hours: 1 });
    for (const timeoutMs of [new Date(), 'soon', -1, Number.NaN, {}]) {
      expect({ timeoutMs, got: await failure(() => waiting.result({ timeoutMs: timeoutMs as never })) }).toEqual({ timeoutMs, got: { code: 'ARGS_INVALID', field: 'timeoutMs' } });
      expect({ timeoutMs, got: await failure(() => queue.waitForEnd(waiting.id, timeoutMs as never)) }).toEqual({ timeoutMs, got: { code: 'ARGS_INVALID', field: 'timeoutMs' } });
    }
    expect(await failure(() => waiting.result(null as never))).toEqual({ code: 'ARGS_INVALID', field: 'options' });
    expect(await failure(() => waiting.result({ timeoutMs: 0 }))).toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('arguments JSON cannot carry', () => {
  const free = queue.job({ name: 'free-args', routes: ['r'] }, async (...args: unknown[]) => args.length);

  it('refuses NaN and ±Infinity, naming where they are, instead of delivering null', async () => {
    const before = (await queue.list({ limit: 1_000 })).jobs.length;
    expect(await failure(() => free.fire(Number.NaN))).toEqual({ code: 'ARGS_INVALID', field: 'args.0' });
    expect(await failure(() => free.fire(1, { rate: { max: Infinity } }))).toEqual({ code: 'ARGS_INVALID', field: 'args.1.rate.max' });
    expect(await failure(() => free.fire([1, -Infinity]))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.1' });
    expect(await failure(() => queue.call('./tasks.js:run', [{ ratio: Number.NaN }], { routes: ['r'] }))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.ratio' });
    await expect(free.fire(Number.NaN)).rejects.toThrow(/args\.0.*NaN/);
    expect((await queue.list({ limit: 1_000 })).jobs.length).toBe(before);
  });

  it('names the argument whose getter throws, whatever it throws (null included)', async () => {
    const throwing = (thrown: unknown) => Object.defineProperty({}, 'size', { enumerable: true, get: () => { throw thrown; } });
    for (const thrown of [null, undefined, 'text', new Error('getter')]) {
      expect(await failure(() => queue.call('./tasks.js:run', [throwing(thrown)], { routes: ['r'] }))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.size' });
      expect(await failure(() => free.fire(throwing(thrown)))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.size' });
    }
  });

  it('still carries what JSON carries: null, nested values, Dates as ISO strings', async () => {
    const handle = await queue.call('./tasks.js:run', [null, { at: new Date(0), list: [1, 'two', true] }], { routes: ['r'] });
    expect((await queue.getRecord(handle.id))?.args).toEqual(['./tasks.js:run', [null, { at: '1970-01-01T00:00:00.000Z', list: [1, 'two', true] }]]);
  });

  it('reads each getter and toJSON once per call, even when the JSON holds a null', async () => {
    let reads = 0;
    let conversions = 0;
    const counted = () => ({
      note: null,
      get size() {
        reads += 1;
        return 3;
      },
      when: { toJSON: () => ((conversions += 1), 'then') },
    });
    await free.fire(counted());
    await queue.call('./tasks.js:run', [counted()], { routes: ['r'] });
    expect({ reads, conversions }).toEqual({ reads: 2, conversions: 2 });
  });

  it('names the path of a BigInt, a cycle and a throwing toJSON at any depth', async () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = { back: cyclic };
    const badJson = { toJSON: () => { throw new Error('no json'); } };
    expect(await failure(() => free.fire(1, { deep: [null, 2n] }))).toEqual({ code: 'ARGS_INVALID', field: 'args.1.deep.1' });
    expect(await failure(() => free.fire(cyclic))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.self.back' });
    expect(await failure(() => free.fire({ a: 1, b: [0, badJson] }))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.b.1' });
    expect(await failure(() => free.fire({ a: { x: 1 }, b: { y: badJson } }))).toEqual({ code: 'ARGS_INVALID', field: 'args.0.b.y' });
    await expect(free.fire({ list: [1, { big: 1n }] })).rejects.toThrow(/args\.0\.list\.1\.big is a BigInt/);
  });
});
