import { describe, expect, it } from 'vitest';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { uniqueQueue } from '@skq/testing';
import { LogBudget, LogBuffer, MAX_PENDING_LOG_BYTES, MAX_PENDING_LOG_LINES } from '../src/log-buffer.js';

describe('a worker\'s log buffer', () => {
  it('stores each line once when a write stores part of its lines and fails (FoundationDB, fault on the 2nd transaction)', async () => {
    const cluster = new SimulatedCluster();
    const backend = FdbBackend.onDatabase(cluster.open());
    const queue = uniqueQueue('log-buffer');
    const logs = new LogBuffer('job-1.0', backend.capabilities.maxValueBytes!, new LogBudget());
    // 6,000 lines take two of FDB's log transactions (5,000 lines each at most).
    for (let i = 0; i < 6_000; i += 1) logs.push({ stream: 'log', line: String(i) });
    cluster.failCommit(1);
    await expect(logs.write(backend, queue)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(logs.size).toBe(1_000);
    await logs.write(backend, queue);
    expect(logs.size).toBe(0);
    expect((await backend.getLogs(queue, 'job-1')).map((l) => Number(l.line))).toEqual(Array.from({ length: 6_000 }, (_, i) => i));
    await backend.close();
  }, 30_000);

  it('bounds the lines of all attempts together, in UTF-8 bytes, dropping the oldest first', async () => {
    expect([MAX_PENDING_LOG_BYTES, MAX_PENDING_LOG_LINES]).toEqual([64 * 1024 * 1024, 100_000]);
    const budget = new LogBudget(1_000, 100);
    const a = new LogBuffer('a.0', 90_000, budget);
    const b = new LogBuffer('b.0', 90_000, budget);
    // 'é' is two bytes in UTF-8: each line is 200 bytes, so five fit and the sixth pushes the oldest (a's first) out.
    for (let i = 0; i < 3; i += 1) {
      a.push({ stream: 'log', line: 'é'.repeat(100) });
      b.push({ stream: 'log', line: 'é'.repeat(100) });
    }
    expect(budget.bytes).toBe(1_000);
    expect([a.size, b.size]).toEqual([3, 3]); // a: two lines and the line counting the dropped one
    const written = a.take()!;
    expect(written[0]!.line).toMatch(/^\[skunq\] 1 earlier log lines were dropped/);
    a.settle(written.length);
    expect(budget.bytes).toBe(600);
    b.discard();
    expect([budget.bytes, budget.lines]).toEqual([0, 0]);
  });

  it('drops the oldest line in constant time when full', () => {
    const logs = new LogBuffer('j.0', 90_000, new LogBudget());
    let started = performance.now();
    for (let i = 0; i < MAX_PENDING_LOG_LINES; i += 1) logs.push({ stream: 'log', line: 'x' });
    const filling = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < MAX_PENDING_LOG_LINES; i += 1) logs.push({ stream: 'log', line: 'y' });
    const overflowing = performance.now() - started;
    // Shifting a full array cost 40x the filling here; the same work per line is about 1x.
    expect(overflowing).toBeLessThan(5 * filling + 500);
    const kept = logs.take()!;
    expect(kept).toHaveLength(MAX_PENDING_LOG_LINES + 1);
    expect(kept[0]!.line).toMatch(/^\[skunq\] 100000 earlier/);
    expect(kept.slice(1).every((l) => l.line === 'y')).toBe(true);
  }, 60_000);
});
