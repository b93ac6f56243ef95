import { afterEach, describe, expect, it } from 'vitest';
import { SkunkQueue, currentJob } from '@skq/core';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { uniqueQueue } from '@skq/testing';
import { WorkerPool } from '@skq/worker';

// FDB keeps a value under 100 KB and a transaction under 10 MB: log lines are cut to fit a value,
// and many lines are written over several transactions.
describe('log lines on FoundationDB', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  it('stores a line over 100 KB cut with a marker, and 1,000 lines of 20 KB whole', async () => {
    const queue = new SkunkQueue(uniqueQueue('fdb-logs'), { backend: FdbBackend.onDatabase(new SimulatedCluster().open()) });
    const pool = new WorkerPool({ queue, routes: ['r'], logger: { warn() {}, info() {} } });
    closing.push(async () => {
      await pool.close();
      await queue.close();
    });
    const loud = queue.job({ name: 'loud', routes: ['r'] }, async () => {
      currentJob().log('x'.repeat(120_000));
      for (let i = 0; i < 1_000; i += 1) currentJob().log(`${i} ${'y'.repeat(20_000)}`);
      return 'done';
    });
    const handle = await loud.fire();
    await pool.start();
    expect(await handle.result({ timeoutMs: 30_000 })).toBe('done');
    const lines = (await handle.logs()).filter((l) => l.stream === 'ctx').map((l) => l.line);
    expect(lines).toHaveLength(1_001);
    expect(lines[0]).toMatch(/^x+… \[cut: \d+ more bytes\]$/);
    expect(lines.slice(1).map((l) => Number(l.split(' ')[0]))).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(lines.slice(1).every((l) => l.length > 20_000)).toBe(true);
  }, 60_000);
});
