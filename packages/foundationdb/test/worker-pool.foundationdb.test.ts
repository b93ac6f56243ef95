import { describe, expect, it } from 'vitest';
import { SkunkQueue, currentJob } from '@skq/core';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { uniqueQueue } from '@skq/testing';
import { WorkerPool } from '@skq/worker';

describe('a worker pool on the FoundationDB backend (simulator)', () => {
  it('runs jobs woken by watches, with progress, retries, cancel and a schedule', async () => {
    const cluster = new SimulatedCluster({ seed: 5, conflictRate: 0.02, unknownResultRate: 0.01 });
    const queue = new SkunkQueue(uniqueQueue('fdb-pool'), { backend: FdbBackend.onDatabase(cluster.open()) });
    let flaky = 0;
    const double = queue.job({ name: 'double', routes: ['r'] }, async (n: number) => {
      currentJob().progress({ n });
      return n * 2;
    });
    const shaky = queue.job({ name: 'shaky', routes: ['r'], retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 10, maxDelayMs: 10, jitter: 0 } } }, async () => {
      flaky += 1;
      if (flaky < 2) throw new Error('first try fails');
      return 'ok';
    });
    const pool = new WorkerPool({ queue, routes: ['r'], concurrency: 4, logger: { warn() {}, info() {} } });
    await pool.start();
    try {
      const handles = await Promise.all(Array.from({ length: 40 }, (_, i) => double.fire(i)));
      expect(await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })))).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
      expect(await handles[7]!.progress()).toEqual({ n: 7 });
      expect(await (await shaky.fire()).result({ timeoutMs: 20_000 })).toBe('ok');
      const later = await double.fireAt({ hours: 1 }, 1);
      expect(await queue.cancel(later.id)).toBe(true);
      expect(await later.state()).toBe('cancelled');
      await queue.schedule('tick', double.with(100), { every: { millis: 200 } });
      await expect.poll(async () => (await queue.schedules())[0]?.firedCount ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    } finally {
      await pool.close();
      await queue.close();
    }
  }, 60_000);
});

describe('FoundationDB limits on a worker pool', () => {
  it('fails a job whose result is larger than FDB stores, with the reason recorded, and keeps the worker', async () => {
    const queue = new SkunkQueue(uniqueQueue('fdb-big'), { backend: FdbBackend.onDatabase(new SimulatedCluster().open()) });
    const big = queue.job({ name: 'big', routes: ['r'] }, async () => 'x'.repeat(200_000));
    const small = queue.job({ name: 'small', routes: ['r'] }, async () => 'fine');
    const measure = queue.job({ name: 'measure', routes: ['r'] }, async (text: string) => text.length);
    const pool = new WorkerPool({ queue, routes: ['r'], logger: { warn() {}, info() {} } });
    await pool.start();
    try {
      const handle = await big.fire();
      await expect(handle.result({ timeoutMs: 20_000 })).rejects.toMatchObject({ message: expect.stringContaining('stores at most 90000') });
      expect(await (await small.fire()).result({ timeoutMs: 20_000 })).toBe('fine');
      await expect(measure.fire('y'.repeat(200_000))).rejects.toMatchObject({ code: 'ARGS_INVALID' });
    } finally {
      await pool.close();
      await queue.close();
    }
  }, 60_000);
});
