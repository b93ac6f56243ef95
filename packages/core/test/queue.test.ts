import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobMixin, SkqError, SkunkQueue } from '@skq/core';
import { CONJUNCTION_JOB } from '@skq/core/backend';

const dir = mkdtempSync(join(tmpdir(), 'skq-queue-'));
const backend = `sqlite:${join(dir, 'queue.db')}`;
const queues: SkunkQueue[] = [];
const open = (name: string, options: ConstructorParameters<typeof SkunkQueue>[1] = {}) => {
  const q = new SkunkQueue(name, { backend, ...options });
  queues.push(q);
  return q;
};
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err instanceof SkqError ? { code: err.code, field: err.context.field } : err;
  }
  return 'did not throw';
}

class Greet extends JobMixin {
  override routes = ['foo'];
  work(name: string) {
    return `hi ${name}`;
  }
}

describe('SkunkQueue', () => {
  it('rejects bad options and names with CONFIG_INVALID naming the field', () => {
    expect(codeOf(() => new SkunkQueue('demo', { type: 'fanout' as never }))).toEqual({ code: 'CONFIG_INVALID', field: 'type' });
    expect(codeOf(() => new SkunkQueue('demo', { backend: 42 as never }))).toEqual({ code: 'CONFIG_INVALID', field: 'backend' });
    expect(codeOf(() => new SkunkQueue('demo', { colour: 'red' } as never))).toEqual({ code: 'CONFIG_INVALID', field: 'colour' });
    expect(codeOf(() => new SkunkQueue('has space'))).toEqual({ code: 'CONFIG_INVALID', field: 'name' });
  });

  it('rejects bad job options', () => {
    const q = open('opts');
    expect(codeOf(() => q.job({ name: 'x', routes: [] }, () => 1))).toMatchObject({ code: 'CONFIG_INVALID', field: 'routes' });
    expect(codeOf(() => q.job({ name: 'x', routes: ['a'], retry: -1 }, () => 1))).toMatchObject({ code: 'CONFIG_INVALID', field: 'retry' });
    expect(codeOf(() => q.job({ name: 'bad name', routes: ['a'] }, () => 1))).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(codeOf(() => q.job({ name: CONJUNCTION_JOB, routes: ['a'] }, () => 1))).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('refuses arguments that fail the schema, and enqueues nothing', async () => {
    const q = open('args');
    const add = q.job({ name: 'add', routes: ['foo'], args: z.tuple([z.number(), z.number()]) }, async (a, b) => a + b);
    await expect(add.fire(1, 'x' as never)).rejects.toMatchObject({ code: 'ARGS_INVALID', message: expect.stringContaining('args.1') });
    await expect(add.fire(1n as never, 2)).rejects.toMatchObject({ code: 'ARGS_INVALID' });
    const untyped = q.job({ name: 'untyped', routes: ['foo'] }, async (v: unknown) => v);
    await expect(untyped.fire(10n)).rejects.toMatchObject({ code: 'ARGS_INVALID', message: expect.stringContaining('serialized') });
    expect((await q.list()).jobs).toEqual([]);
    const ok = await add.fire(1, 2);
    expect(await ok.state()).toBe('queued');
    expect((await q.list()).jobs.map((j) => j.id)).toEqual([ok.id]);
  });

  it('fires later with a Date, ms or combined units', async () => {
    const q = open('later');
    const job = q.job({ name: 'later', routes: ['foo'] }, async () => 1);
    const before = Date.now();
    const h = await job.fireAt({ minutes: 1.5, millis: 250 });
    const record = await h.info();
    expect(record.state).toBe('scheduled');
    expect(record.deliveries[0]!.runAt - before).toBeGreaterThanOrEqual(90_250);
    expect(record.deliveries[0]!.runAt - before).toBeLessThan(91_250);
    await q.reschedule(h.id, new Date(Date.now() + 5_000));
    expect((await h.info()).deliveries[0]!.runAt).toBeLessThan(before + 6_000);
    await expect(job.fireAt({ fortnights: 1 } as never)).rejects.toMatchObject({ code: 'ARGS_INVALID' });
  });

  it('dedupes a pending job by key, with per-fire priority', async () => {
    const q = open('dedupe');
    const job = q.job({ name: 'sync', routes: ['foo'] }, async () => 1);
    const a = await job.fireWith({ dedupeKey: 'k', priority: 7 });
    const b = await job.fireWith({ dedupeKey: 'k' });
    expect(b.id).toBe(a.id);
    expect(b.deduped).toBe(true);
    expect((await a.info()).priority).toBe(7);
  });

  it('refuses a transaction (tx) on a backend that cannot enqueue in one, and enqueues nothing', async () => {
    const q = open('no-tx');
    const job = q.job({ name: 'sync', routes: ['foo'] }, async () => 1);
    const client = { query: async () => ({ rows: [] }) };
    await expect(job.fireWith({ tx: client })).rejects.toMatchObject({ code: 'UNSUPPORTED', context: { field: 'options.tx' } });
    expect((await q.list()).jobs).toEqual([]);
  });

  it('cancels, looks up and reports missing jobs', async () => {
    const q = open('lookup');
    const job = q.job({ name: 'j', routes: ['foo'] }, async () => 1);
    const h = await job.fire();
    expect((await q.get(h.id)).id).toBe(h.id);
    expect(await q.cancel(h.id)).toBe(true);
    expect(await h.state()).toBe('cancelled');
    await expect(h.result()).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(q.reschedule(h.id, 10)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(q.get('nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(q.cancel('nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(open('other').get(h.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('times out waiting for a result with TIMEOUT', async () => {
    const q = open('wait');
    const h = await q.job({ name: 'never', routes: ['nobody'] }, async () => 1).fire();
    await expect(h.result({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('builds conjunctions of function and class jobs in order', async () => {
    const q = open('conj');
    q.register(Greet);
    const add = q.job({ name: 'add', routes: ['bar'] }, async (a: number, b: number) => a + b);
    const both = add.with(1, 2).and(new Greet().with('Jed')).and(new Greet().with('Ian'));
    expect(both.name).toBe(CONJUNCTION_JOB);
    expect(both.parts).toEqual([
      { name: 'add', args: [1, 2] },
      { name: 'Greet', args: ['Jed'] },
      { name: 'Greet', args: ['Ian'] },
    ]);
    const h = await q.push(both);
    expect((await h.info()).routes).toEqual(['bar']);
    expect(codeOf(() => q.register(class NotAJob {} as never))).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('names an unknown backend scheme', async () => {
    const q = new SkunkQueue('x', { backend: 'cassandra://db' });
    await expect(q.backend()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('cassandra') });
  });
});

describe('class job registration', () => {
  it('works as a class decorator', async () => {
    const q = open('decorated');
    @q.register
    class Decorated extends JobMixin {
      override routes = ['foo'];
      work() {
        return 'ok';
      }
    }
    expect(q.registry.get('decorated', 'Decorated')?.kind).toBe('class');
    expect(q.registry.get('decorated', 'Decorated')).toBeDefined();
    expect(new Decorated().toInvocation().name).toBe('Decorated');
  });

  it('uses a static jobName over the class name, and checks class args schemas at push', async () => {
    const q = open('named');
    class Renamed extends JobMixin {
      static override jobName = 'renamed-job';
      static override args = z.tuple([z.string().email()]);
      override routes = ['foo'];
      work(email: string) {
        return email;
      }
    }
    q.register(Renamed);
    expect(q.registry.names('named')).toContain('renamed-job');
    expect(() => new Renamed().with('not-an-email')).toThrowError(expect.objectContaining({ code: 'ARGS_INVALID' }));
    expect((await (await q.push(new Renamed().with('a@b.co'))).info()).name).toBe('renamed-job');
  });
});
