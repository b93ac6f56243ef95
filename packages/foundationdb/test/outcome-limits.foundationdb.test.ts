import { afterEach, describe, expect, it } from 'vitest';
import { SkunkQueue, currentJob, type JobRecord } from '@skq/core';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { uniqueQueue } from '@skq/testing';
import { WorkerPool } from '@skq/worker';

// Outcomes larger than one FDB value (100 KB), alone or with what the delivery already holds, are
// stored once: errors cut with a marker, results refused with a typed error; the handler never runs again for it.
describe('FoundationDB outcomes that do not fit one value', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  const LEASE_MS = 1_000;

  async function setUp() {
    const queue = new SkunkQueue(uniqueQueue('fdb-outcome'), { backend: FdbBackend.onDatabase(new SimulatedCluster().open()) });
    const pool = new WorkerPool({ queue, routes: ['r'], leaseMs: LEASE_MS, logger: { warn() {}, info() {} } });
    closing.push(async () => {
      await pool.close();
      await queue.close();
    });
    return { queue, start: () => pool.start() };
  }
  const ended = (queue: SkunkQueue, id: string): Promise<JobRecord> => queue.waitForEnd(id, 15_000);
  const once = { retry: { attempts: 1 } };

  /**
   * Forces what a rerun would need instead of waiting for it: the recovery sweep, run with the clock
   * well past any lease this attempt held, must take nothing back, and the stored attempt must stay
   * the one that ran (a job taken back shows queued or running, its recoveries counted).
   */
  async function expectNoRerun(queue: SkunkQueue, id: string, state: JobRecord['state']): Promise<void> {
    const backend = await queue.backend();
    expect(await backend.recoverExpired(queue.name, Date.now() + 10 * LEASE_MS)).toBe(0);
    const record = (await queue.getRecord(id))!;
    expect(record.state).toBe(state);
    expect(record.deliveries[0]).toMatchObject({ attempts: 1, recoveries: 0 });
  }

  it.each([60_000, 120_000])('records a %i-byte error message once, cut with a marker, and runs the handler once', async (size) => {
    const { queue, start } = await setUp();
    let runs = 0;
    const loud = queue.job({ name: 'loud', routes: ['r'], ...once }, async () => {
      runs += 1;
      throw new Error('e'.repeat(size));
    });
    const handle = await loud.fire();
    await start();
    const record = await ended(queue, handle.id);
    expect(record.state).toBe('failed');
    const error = record.deliveries[0]!.error!;
    expect(error.message).toMatch(/^e+… \[cut: \d+ more bytes\]$/);
    expect(Buffer.byteLength(JSON.stringify(error))).toBeLessThan(100_000);
    await expectNoRerun(queue, handle.id, 'failed');
    expect(runs).toBe(1);
  }, 30_000);

  it('stores an 85 KB result after 16 KB of progress, running the handler once', async () => {
    const { queue, start } = await setUp();
    let runs = 0;
    const big = queue.job({ name: 'big', routes: ['r'], ...once }, async () => {
      runs += 1;
      currentJob().progress({ note: 'p'.repeat(16_000) });
      return 'r'.repeat(85_000);
    });
    const handle = await big.fire();
    await start();
    expect(await handle.result({ timeoutMs: 15_000 })).toHaveLength(85_000);
    await expectNoRerun(queue, handle.id, 'succeeded');
    expect(runs).toBe(1);
  }, 30_000);

  it('stores a 50 KB result on attempt 2 after a 25 KB error on attempt 1: the job succeeds after two runs', async () => {
    const { queue, start } = await setUp();
    let runs = 0;
    const flaky = queue.job({ name: 'flaky', routes: ['r'], retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 10, maxDelayMs: 10, jitter: 0 } } }, async () => {
      runs += 1;
      if (runs === 1) throw new Error('f'.repeat(25_000));
      return 's'.repeat(50_000);
    });
    const handle = await flaky.fire();
    await start();
    expect(await handle.result({ timeoutMs: 15_000 })).toHaveLength(50_000);
    expect(runs).toBe(2);
  }, 30_000);

  it('refuses a result over the store\'s limit once, with a typed error recorded', async () => {
    const { queue, start } = await setUp();
    let runs = 0;
    const huge = queue.job({ name: 'huge', routes: ['r'], retry: { attempts: 3 } }, async () => {
      runs += 1;
      return 'h'.repeat(95_000);
    });
    const handle = await huge.fire();
    await start();
    const record = await ended(queue, handle.id);
    expect(record.state).toBe('failed');
    expect(record.deliveries[0]!.error).toMatchObject({ code: 'RESULT_TOO_LARGE', message: expect.stringContaining('at most') });
    await expectNoRerun(queue, handle.id, 'failed');
    expect(runs).toBe(1);
  }, 30_000);
});
