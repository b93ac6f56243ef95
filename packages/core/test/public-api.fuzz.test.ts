// Property tests of the public entry points with arbitrary input, on a fixed seed so that a run
// is reproducible: every call ends in a success or a typed SkqError, within a time bound, and a
// refused call stores nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AIMDScheduler, JobMixin, RetryAfter, SkqError, SkunkQueue, TimeScheduler } from '@skq/core';
import { resolveWhen, serializeError } from '@skq/core/backend';
import { WorkerPool } from '@skq/worker';

const SEED = 20_261_123;
const RUNS = 150;
const CALL_BOUND_MS = 5_000;

const dir = mkdtempSync(join(tmpdir(), 'skq-fuzz-'));
const backend = `sqlite:${join(dir, 'fuzz.db')}`;
const queue = new SkunkQueue('fuzz', { backend });
afterAll(async () => {
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
});

const add = queue.job({ name: 'fuzz-add', routes: ['r'], args: z.tuple([z.number(), z.number()]) }, async (a, b) => a + b);
const free = queue.job({ name: 'fuzz-free', routes: ['r'] }, async (...args: unknown[]) => args.length);
class Greet extends JobMixin {
  override routes = ['r'];
  work(name: string) {
    return `hi ${name}`;
  }
}
queue.register(Greet);

/** Anything a plain-JavaScript caller might pass, hostile objects included. */
const anything = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withTypedArray: true }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 31, 1e308, '', '\0', 'sqlite:100%.db', Symbol('s'), () => 1),
  // Getters that throw (hidden from fast-check's own printing, which would trip on them too).
  fc.constantFrom('name', 'routes', 'toInvocation', 'length', 'every').map((key) =>
    Object.defineProperty({}, key, { enumerable: false, get: () => { throw new Error(`getter ${key}`); } }),
  ),
);

type Outcome = { ok: true; value: unknown } | { ok: false; error: SkqError };

/** Runs `call`, failing the property unless it settles within the bound as a success or an SkqError. */
async function settle(call: () => unknown): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CALL_BOUND_MS} ms`)), CALL_BOUND_MS);
  });
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(call), bound]) };
  } catch (err) {
    if (err instanceof SkqError) return { ok: false, error: err };
    throw new Error(`expected a success or an SkqError, got ${serializeError(err).name}: ${serializeError(err).message}`);
  } finally {
    clearTimeout(timer);
  }
}

const jobCount = async () => (await queue.list({ limit: 1_000 })).jobs.length;

const property = (name: string, arbitrary: fc.Arbitrary<unknown[]>, check: (...args: any[]) => Promise<void>) =>
  it(name, async () => {
    await fc.assert(fc.asyncProperty(arbitrary, async (args) => check(...args)), { seed: SEED, numRuns: RUNS });
  });

describe('public entry points with arbitrary input', () => {
  property('fire: a stored job, or a refusal that stores nothing', fc.tuple(fc.array(anything, { maxLength: 3 })), async (args: unknown[]) => {
    for (const job of [add, free]) {
      const before = await jobCount();
      const outcome = await settle(() => (job.fire as unknown as (...a: unknown[]) => Promise<{ id: string }>)(...args));
      if (outcome.ok) expect(await queue.getRecord((outcome.value as { id: string }).id)).not.toBeNull();
      else expect(await jobCount()).toBe(before);
    }
  });

  property('fireWith and fireAt: options and times of any shape', fc.tuple(anything, anything), async (options: unknown, when: unknown) => {
    const before = await jobCount();
    const a = await settle(() => add.fireWith(options as never, 1, 2));
    const b = await settle(() => add.fireAt(when as never, 1, 2));
    expect(await jobCount()).toBe(before + [a, b].filter((o) => o.ok).length);
  });

  property('times: only a Date, a number of ms or a duration object is taken as one', fc.tuple(anything), async (when: unknown) => {
    // zod alone reads a Date, a Map or any class instance as an empty duration: "now", or "0 ms ago".
    const proto = typeof when === 'object' && when !== null ? Object.getPrototypeOf(when) : undefined;
    const isTime = when === undefined || when instanceof Date || typeof when === 'number' || proto === Object.prototype || proto === null;
    const fired = await settle(() => add.fireAt(when as never, 1, 2));
    if (fired.ok) expect({ when, isTime }).toEqual({ when, isTime: true });
    const cleaned = await settle(() => queue.clean({ state: 'cancelled', olderThan: when as never }));
    if (cleaned.ok) expect({ when, isTime }).toEqual({ when, isTime: true });
  });

  property('queue.job and JobMixin: options of any shape', fc.tuple(anything, anything, anything), async (options: unknown, routes: unknown, timeout: unknown) => {
    await settle(() => queue.job(options as never, async () => 1));
    await settle(() => Object.assign(new Greet(), { routes, timeout }).with('x'));
  });

  property('shell, call, push and pushMany: anything in every position', fc.tuple(anything, anything, anything), async (a: unknown, b: unknown, c: unknown) => {
    const before = await jobCount();
    const outcomes = [
      await settle(() => queue.shell(a as never, b as never, c as never)),
      await settle(() => queue.call(a as never, b as never, c as never)),
      await settle(() => queue.push(a as never, b as never)),
      await settle(() => queue.pushMany(a as never, b as never)),
    ];
    // A success stores what it says; refusals store nothing.
    const stored = outcomes.filter((o) => o.ok).reduce((n, o) => n + (Array.isArray((o as { value: unknown }).value) ? ((o as { value: unknown[] }).value.length) : 1), 0);
    expect(await jobCount()).toBe(before + stored);
  });

  property('schedules and schedulers: any name, job and recurrence', fc.tuple(anything, anything, anything), async (name: unknown, job: unknown, recurrence: unknown) => {
    await settle(() => queue.schedule(name as never, job as never, recurrence as never));
    await settle(() => queue.schedule('fuzz', add.with(1, 2), recurrence as never));
    await settle(() => new TimeScheduler(queue, recurrence as never).add(job as never));
    await settle(() => new AIMDScheduler(queue, name as never));
  });

  property('reading and controlling jobs: any id, query and time', fc.tuple(anything, anything), async (id: unknown, other: unknown) => {
    for (const call of [
      () => queue.get(id as never),
      () => queue.getRecord(id as never),
      () => queue.logs(id as never),
      () => queue.cancel(id as never),
      () => queue.reschedule(id as never, other as never),
      () => queue.list(id as never),
      () => queue.pauseSchedule(id as never, other as never),
      () => queue.removeSchedule(id as never),
      () => queue.retry(id as never),
      () => queue.promote(id as never),
    ]) {
      await settle(call);
    }
  });

  property('constructors and helpers: any options', fc.tuple(anything, anything), async (a: unknown, b: unknown) => {
    await settle(() => new SkunkQueue(a as never, b as never));
    await settle(() => new WorkerPool(a as never));
    await settle(() => new RetryAfter(a as never));
    await settle(() => resolveWhen(a as never));
    expect(() => serializeError(a)).not.toThrow();
  });
});
