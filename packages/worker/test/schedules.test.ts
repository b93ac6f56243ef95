import { describe, expect, it } from 'vitest';
import { AIMDScheduler, JobMixin, SkqError, TimeScheduler, type LogMeta } from '@skq/core';
import { ScheduleRunner, acquireBackend, releaseBackend, type StorageBackend } from '@skq/core/backend';
import { eventually, sleep } from '@skq/testing';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('schedules');
const backend = fixture.backend;

async function setup(withPool = true) {
  const queue = fixture.queue();
  if (withPool) await fixture.startPool({ queue, routes: ['foo'], pollIntervalMs: 20, concurrency: 2 });
  return queue;
}

const tickOf = (jobId: string) => Number(jobId.slice(jobId.lastIndexOf(':') + 1));

describe('TimeScheduler', () => {
  it('conjoins the jobs added before each flush and fires the compound job at every tick', async () => {
    const queue = await setup();
    class Foo extends JobMixin {
      override routes = ['foo'];
      work() {
        return 'foo';
      }
    }
    class Bar extends JobMixin {
      override routes = ['foo'];
      work() {
        return 'bar';
      }
    }
    queue.register(Foo);
    queue.register(Bar);
    const schedule = new TimeScheduler(queue, { every: { millis: 100 }, name: 'pair' });
    schedule.add(new Foo()).add(new Bar());
    expect(await schedule.flush()).toBe('pair');
    schedule.add(new Bar());
    await schedule.close(); // flushes once more: a second schedule
    const schedules = await queue.schedules();
    expect(schedules.map((s) => [s.id, s.job.name])).toEqual([
      ['pair', 'skq.conjunction'],
      ['pair-2', 'Bar'],
    ]);
    await eventually(async () => (await queue.schedules()).every((s) => s.firedCount >= 3), 'three ticks each', 5_000);
    const pairs = (await queue.list({ limit: 100 })).jobs.filter((j) => j.id.startsWith(`sched:${queue.name}:pair:`));
    await eventually(async () => (await Promise.all(pairs.map((p) => queue.getRecord(p.id)))).every((r) => r?.state === 'succeeded'), 'the fired jobs to run');
    const first = await queue.getRecord(pairs[pairs.length - 1]!.id);
    expect(first?.deliveries[0]?.result).toEqual(['foo', 'bar']);
    const ticks = pairs.map((p) => tickOf(p.id)).sort((a, b) => a - b);
    for (let i = 1; i < ticks.length; i += 1) expect(ticks[i]! - ticks[i - 1]!).toBe(100);
  });

  it('refuses bad options', () => {
    const queue = { name: 'q', type: 'direct' as const, backend: async () => undefined as never };
    expect(() => new TimeScheduler(queue, {} as never)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new TimeScheduler(queue, { cron: 'not a cron' })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'cron' } }));
    expect(() => new TimeScheduler(queue, { every: { wait: 1 }, timezone: 'UTC' })).toThrowError(/timezone goes with cron/);
  });
});

describe('queue.schedule', () => {
  it('runs a recurring task again its delay after each completion', async () => {
    const queue = await setup();
    const runs: { start: number; end: number }[] = [];
    const slow = queue.job({ name: 'slow', routes: ['foo'] }, async () => {
      const start = Date.now();
      await sleep(150);
      runs.push({ start, end: Date.now() });
    });
    await queue.schedule('after', slow.with(), { after: { millis: 200 } });
    await eventually(() => runs.length >= 3, 'three runs', 10_000);
    for (let i = 1; i < runs.length; i += 1) expect(runs[i]!.start - runs[i - 1]!.end).toBeGreaterThanOrEqual(195);
  });

  it('pauses, resumes and removes schedules', async () => {
    const queue = await setup(false);
    const job = queue.job({ name: 'noop', routes: ['foo'] }, async () => 1);
    await queue.schedule('p', job.with(), { every: { wait: 60 } });
    await queue.pauseSchedule('p');
    expect((await queue.schedules())[0]?.paused).toBe(true);
    await queue.pauseSchedule('p', false);
    expect((await queue.schedules())[0]?.paused).toBe(false);
    await queue.removeSchedule('p');
    await expect(queue.removeSchedule('p')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(queue.schedule('x', job.with(), { every: { hours: 1 }, cron: '* * * * *' } as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('adaptive schedulers', () => {
  it('shortens the AIMD interval while runs succeed', async () => {
    const queue = await setup();
    const starts: number[] = [];
    const job = queue.job({ name: 'probe', routes: ['foo'] }, async () => {
      starts.push(Date.now());
    });
    await new AIMDScheduler(queue, { name: 'probe', minMs: 50, maxMs: 400, initialMs: 400, stepMs: 100 }).add(job.with()).flush();
    await eventually(() => starts.length >= 5, 'five runs', 10_000);
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    // Intervals 300, 200, 100, 50 (plus pick-up time) after the first immediate run.
    expect(gaps[0]!).toBeGreaterThanOrEqual(295);
    expect(gaps[1]!).toBeGreaterThanOrEqual(195);
    expect(gaps[1]!).toBeLessThan(gaps[0]!);
    expect(gaps[3]!).toBeLessThan(gaps[1]!);
    const [record] = await queue.schedules();
    expect(record?.state?.intervalMs).toBeLessThanOrEqual(100);
  });
});

describe('ScheduleRunner', () => {
  it('never fires a tick twice when runners disagree about the time', async () => {
    const queue = await setup(false);
    const job = queue.job({ name: 'skewed', routes: ['foo'] }, async () => 1);
    await queue.schedule('skew', job.with(), { every: { millis: 100 } });
    const backends = await Promise.all([acquireBackend(backend), acquireBackend(backend)]);
    const runners = [
      new ScheduleRunner(backends[0]!, [queue.name], { pollIntervalMs: 10, clock: () => Date.now() + 3_000 }),
      new ScheduleRunner(backends[1]!, [queue.name], { pollIntervalMs: 10, clock: () => Date.now() - 3_000 }),
      new ScheduleRunner(backends[1]!, [queue.name], { pollIntervalMs: 10 }),
    ];
    for (const runner of runners) runner.start();
    await sleep(1_000);
    await Promise.all(runners.map((r) => r.stop()));
    await releaseBackend(backend);
    await releaseBackend(backend);
    const [record] = await queue.schedules();
    const ticks = (await queue.list({ limit: 1_000 })).jobs.map((j) => tickOf(j.id)).sort((a, b) => a - b);
    expect(ticks.length).toBe(record!.firedCount);
    expect(new Set(ticks).size).toBe(ticks.length);
    // A runner whose clock is ahead fires early and skips the ticks it thinks were missed, but every
    // fired tick lies on the schedule's grid and fires once.
    for (let i = 1; i < ticks.length; i += 1) expect((ticks[i]! - ticks[i - 1]!) % 100).toBe(0);
    expect(ticks.length).toBeGreaterThan(2);
  });

  it("tells the pool's logger which queue and schedule a failed pass was at, with the error", async () => {
    const queue = fixture.queue();
    const job = queue.job({ name: 'unlucky', routes: ['foo'] }, async () => 1);
    await queue.schedule('flaky', job.with(), { every: { millis: 100 } });
    const real = await queue.backend();
    const refusing = new Proxy(real, {
      get(target, prop) {
        if (prop === 'fireSchedule') return async () => Promise.reject(new SkqError('BACKEND_UNAVAILABLE', 'the server is away', { context: { queue: queue.name } }));
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as StorageBackend;
    const warnings: { meta: LogMeta; message: string }[] = [];
    await fixture.startPool({ queue, routes: ['foo'], backend: refusing, pollIntervalMs: 20, logger: { info() {}, warn: (meta, message) => warnings.push({ meta, message }) } });
    await eventually(() => warnings.length > 0, 'a warning about the schedules', 10_000);
    expect(warnings[0]!.message).toBe('could not fire or advance the schedules; the schedule runner tries again');
    expect(warnings[0]!.meta).toMatchObject({ queue: queue.name, scheduleId: 'flaky', err: { code: 'BACKEND_UNAVAILABLE', message: 'the server is away' } });
  });
});
