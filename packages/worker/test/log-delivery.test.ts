import { describe, expect, it } from 'vitest';
import { SkqError, currentJob, type LogLine } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
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

/** The real backend, with every `appendLogs` call recorded and `fail` refused as too large while `refuse()` says so. */
function watched(real: StorageBackend, calls: LogLine[][], refuse: () => boolean = () => false): StorageBackend {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'appendLogs') {
        return async (queue: string, lines: LogLine[]) => {
          calls.push(lines);
          return target.appendLogs(queue, lines);
        };
      }
      if (prop === 'fail') {
        return async (...args: Parameters<StorageBackend['fail']>) => {
          if (refuse()) throw new SkqError('ARGS_INVALID', 'FoundationDB refused the write: value_too_large (2103)');
          return target.fail(...args);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a worker\'s log writes', () => {
  it('carry the lines of every running job in one write per flush', async () => {
    const queue = fixture.queue();
    const calls: LogLine[][] = [];
    const backend = watched(await queue.backend(), calls);
    let released = false;
    const steady = queue.job({ name: 'steady', routes: ['r'] }, async () => {
      for (let i = 0; !released; i += 1) {
        currentJob().log(`line ${i}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return 'done';
    });
    await fixture.startPool({ queue, routes: ['r'], backend, concurrency: 3, pollIntervalMs: 100, logger: { info() {}, warn() {} } });
    const handles = await Promise.all([steady.fire(), steady.fire(), steady.fire()]);
    try {
      await eventually(() => calls.some((lines) => new Set(lines.map((l) => l.deliveryId)).size === 3), 'a write with lines of all three running jobs', 10_000);
    } finally {
      released = true;
    }
    for (const handle of handles) expect(await handle.result({ timeoutMs: 10_000 })).toBe('done');
  });

  it('left after the outcome stop being retried when the pool closes, reported in one warning', async () => {
    const queue = fixture.queue();
    const calls: LogLine[][] = [];
    const warnings: string[] = [];
    const backend = logsAway(await queue.backend(), () => (calls.push([]), true));
    const chatty = queue.job({ name: 'chatty', routes: ['r'] }, async () => {
      currentJob().log('a line the store never takes');
      return 'done';
    });
    const pool = await fixture.startPool({ queue, routes: ['r'], backend, pollIntervalMs: 100, logger: { info() {}, warn: (_meta, m: string) => warnings.push(m) } });
    const handle = await chatty.fire();
    expect(await handle.result({ timeoutMs: 10_000 })).toBe('done');
    await pool.close();
    // Without the close the worker tries five times over about 2 s before giving the lines up.
    expect(calls.length).toBeLessThan(5);
    expect(warnings.filter((w) => /log lines? of job .* (could not be stored|dropped)/.test(w))).toHaveLength(1);
  });
});

describe('an outcome the store refuses even after cutting', () => {
  it('is recorded as an error too large when the attempt ended with an error (not RESULT_TOO_LARGE)', async () => {
    const queue = fixture.queue();
    let refusals = 0;
    const backend = watched(await queue.backend(), [], () => (refusals += 1) === 1);
    const failing = queue.job({ name: 'failing', routes: ['r'] }, async () => {
      throw new Error('boom');
    });
    await fixture.startPool({ queue, routes: ['r'], backend, pollIntervalMs: 100, logger: { info() {}, warn() {} } });
    const handle = await failing.fire();
    const record = await queue.waitForEnd(handle.id, 10_000);
    expect(record.state).toBe('failed');
    expect(record.deliveries[0]!.error!.code).toBe('ERROR_TOO_LARGE');
    expect(record.deliveries[0]!.error!.message).toMatch(/refused this attempt's error/);
  });
});

