import { describe, expect, it } from 'vitest';
import { SkqError, currentJob, type LogLine, type StorageBackend } from '@skq/core';
import { eventually } from '@skq/testing';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('logs');

/** The real backend, with `appendLogs` failing while `away()` says the server is away. */
function logsAway(real: StorageBackend, away: () => boolean): StorageBackend {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'appendLogs') {
        return async (queue: string, lines: LogLine[]) => {
          if (away()) throw new SkqError('BACKEND_UNAVAILABLE', 'the server is away');
          return target.appendLogs(queue, lines);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('an attempt\'s error on a store without a value limit (SQLite)', () => {
  it('is stored once, its message and stack cut with a marker, and the handler runs once', async () => {
    const queue = fixture.queue();
    let runs = 0;
    const loud = queue.job({ name: 'loud', routes: ['r'] }, async () => {
      runs += 1;
      throw new Error('e'.repeat(2_000_000));
    });
    await fixture.startPool({ queue, routes: ['r'], pollIntervalMs: 100, logger: { info() {}, warn() {} } });
    const handle = await loud.fire();
    const record = await queue.waitForEnd(handle.id, 10_000);
    expect(record.state).toBe('failed');
    expect(record.deliveries[0]!.error!.message).toMatch(/^e+… \[cut: \d+ more bytes\]$/);
    expect(record.deliveries[0]!.error!.message.length).toBeLessThanOrEqual(32_768);
    expect(runs).toBe(1);
  });
});

describe('a worker\'s log lines', () => {
  it('are kept when a write fails, and stored by a later one, with the failure reported', async () => {
    const queue = fixture.queue();
    let failures = 0;
    const warnings: string[] = [];
    // The first two writes fail: the flush before the outcome and the first one after it.
    const backend = logsAway(await queue.backend(), () => (failures += 1) <= 2);
    const chatty = queue.job({ name: 'chatty', routes: ['r'] }, async () => {
      currentJob().log('first line');
      currentJob().log('second line');
      return 'done';
    });
    await fixture.startPool({ queue, routes: ['r'], backend, pollIntervalMs: 100, logger: { info() {}, warn: (_meta, m: string) => warnings.push(m) } });
    const handle = await chatty.fire();
    expect(await handle.result({ timeoutMs: 10_000 })).toBe('done');
    await eventually(async () => (await handle.logs()).length === 2, 'both lines stored', 10_000);
    expect((await handle.logs()).map((l) => l.line)).toEqual(['first line', 'second line']);
    expect(warnings.some((w) => w.includes('could not write 2 log lines'))).toBe(true);
  });

  it('cut an oversized line with a marker', async () => {
    const queue = fixture.queue();
    const loud = queue.job({ name: 'loud', routes: ['r'] }, async () => currentJob().log('x'.repeat(300_000)));
    await fixture.startPool({ queue, routes: ['r'], pollIntervalMs: 100, logger: { info() {}, warn() {} } });
    const handle = await loud.fire();
    await handle.result({ timeoutMs: 10_000 });
    const [line] = await handle.logs();
    expect(line!.line).toMatch(/^x+… \[cut: \d+ more bytes\]$/);
    expect(line!.line.length).toBeLessThanOrEqual(65_536);
  });
});
