import { describe, expect, it } from 'vitest';
import { eventually } from '@skq/testing';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('prefetch', 'rough');

/** A job that runs until `release()` is called, recording the order jobs started in. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, release: () => open() };
}

describe('WorkerPool prefetch', () => {
  it('holds `prefetch` jobs leased beyond its concurrency, runs them as slots free, and a gentle close runs them all', async () => {
    const queue = fixture.queue();
    const { opened, release } = gate();
    const started: number[] = [];
    const job = queue.job({ name: 'gated', routes: ['foo'] }, async (n: number) => {
      started.push(n);
      await opened;
      return n;
    });
    const handles = await queue.pushMany([1, 2, 3, 4].map((n) => job.with(n)));
    const pool = await fixture.startPool({ queue, routes: ['foo'], concurrency: 1, prefetch: 2 });
    // One runs, two wait leased at this worker, one stays queued for any worker.
    await eventually(async () => (await queue.counts()).foo?.running === 3, 'three jobs claimed');
    expect(started).toEqual([1]);
    expect((await queue.counts()).foo).toMatchObject({ running: 3, queued: 1 });
    // The registration holds the prefetched jobs among its running ones, as their state says.
    const held = await eventually(async () => {
      const [worker] = await queue.workers();
      return worker?.runningJobIds.length === 3 ? worker.runningJobIds : null;
    }, 'the registration to hold three jobs', 10_000);
    expect([...held!].sort()).toEqual(handles.slice(0, 3).map((h) => h.id).sort());
    const closed = pool.close('gentle');
    release();
    await closed;
    // The prefetched jobs ran before the close ended; the job never claimed is still queued.
    expect(started).toEqual([1, 2, 3]);
    expect(await Promise.all(handles.map((h) => h.state()))).toEqual(['succeeded', 'succeeded', 'succeeded', 'queued']);
  });

  it('puts prefetched jobs back on the queue on a rough close, without running them', async () => {
    const queue = fixture.queue();
    const started: number[] = [];
    const job = queue.job({ name: 'long', routes: ['foo'] }, async function (n: number) {
      started.push(n);
      await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
    });
    const handles = await queue.pushMany([1, 2, 3].map((n) => job.with(n)));
    const pool = await fixture.startPool({ queue, routes: ['foo'], concurrency: 1, prefetch: 2 });
    await eventually(async () => (await queue.counts()).foo?.running === 3, 'three jobs claimed');
    await pool.close('rough');
    expect(started).toEqual([1]);
    expect(await Promise.all(handles.map((h) => h.state()))).toEqual(['queued', 'queued', 'queued']);
  });

  it('cancels a prefetched job before it starts', async () => {
    const queue = fixture.queue();
    const { opened, release } = gate();
    const started: number[] = [];
    const job = queue.job({ name: 'gated', routes: ['foo'] }, async (n: number) => {
      started.push(n);
      await opened;
      return n;
    });
    const [first, second] = await queue.pushMany([1, 2].map((n) => job.with(n)));
    await fixture.startPool({ queue, routes: ['foo'], concurrency: 1, prefetch: 1 });
    await eventually(async () => (await queue.counts()).foo?.running === 2, 'both jobs claimed');
    expect(await second!.cancel()).toBe(true);
    release();
    await expect(second!.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await first!.result({ timeoutMs: 5_000 })).toBe(1);
    expect(started).toEqual([1]);
  });

  it("with 'auto', prefetches nothing for jobs slower than 50 ms, and holds more of quicker ones", async () => {
    const queue = fixture.queue();
    /** Runs `count` jobs of `ms` each on `route` with prefetch 'auto'; returns the most held at once. */
    const mostHeld = async (route: string, ms: number, count: number) => {
      const job = queue.job({ name: `sleep-${route}`, routes: [route] }, async () => new Promise((resolve) => setTimeout(resolve, ms)));
      await queue.pushMany(Array.from({ length: count }, () => job.with()));
      await fixture.startPool({ queue, routes: [route], concurrency: 1, prefetch: 'auto' });
      let most = 0;
      await eventually(async () => {
        const counts = (await queue.counts())[route];
        most = Math.max(most, counts?.running ?? 0);
        return counts?.succeeded === count;
      }, `every job on ${route} done`, 10_000);
      return most;
    };
    expect(await mostHeld('slow', 120, 4)).toBe(1);
    // Jobs of about 5 ms: after the first, up to 10 are held (50 ms of work), so a claim takes several.
    expect(await mostHeld('quick', 5, 30)).toBeGreaterThan(2);
  });

  it("with 'auto', holds at most the store's prefetchMax beyond its concurrency", async () => {
    const queue = fixture.queue();
    const { capabilities } = await queue.backend();
    // Jobs of about 2 ms: 'auto' alone would hold about 25 (50 ms of work).
    capabilities.prefetchMax = 3;
    try {
      const job = queue.job({ name: 'quick', routes: ['capped'] }, async () => new Promise((resolve) => setTimeout(resolve, 2)));
      await queue.pushMany(Array.from({ length: 150 }, () => job.with()));
      await fixture.startPool({ queue, routes: ['capped'], concurrency: 1, prefetch: 'auto' });
      let most = 0;
      await eventually(async () => {
        const counts = (await queue.counts()).capped;
        most = Math.max(most, counts?.running ?? 0);
        return counts?.succeeded === 150;
      }, 'every job done', 20_000);
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBeGreaterThan(1);
    } finally {
      delete capabilities.prefetchMax;
    }
  });
});
