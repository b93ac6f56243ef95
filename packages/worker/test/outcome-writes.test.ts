import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('outcomes');

/** The real backend, its first `complete` calls refused (by a throw, or a rejection) while `refuse()` says so. */
function completeRefused(real: StorageBackend, how: 'throws' | 'rejects', refuse: () => boolean): StorageBackend {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'complete') {
        return (...args: Parameters<StorageBackend['complete']>) => {
          if (refuse()) {
            const err = new SkqError('BACKEND_UNAVAILABLE', 'the server is away');
            if (how === 'throws') throw err;
            return Promise.reject(err);
          }
          return target.complete(...args);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe("a success the store does not take at the first try", () => {
  for (const how of ['throws', 'rejects'] as const) {
    it(`is stored by a later try when the store's complete ${how}, and the handler runs once`, async () => {
      const queue = fixture.queue();
      let refusals = 0;
      let runs = 0;
      const warnings: string[] = [];
      const backend = completeRefused(await queue.backend(), how, () => (refusals += 1) <= 1);
      const job = queue.job({ name: 'once', routes: ['r'] }, async () => {
        runs += 1;
        return 'done';
      });
      const pool = await fixture.startPool({ queue, routes: ['r'], backend, pollIntervalMs: 100, logger: { info() {}, warn: (_meta, m: string) => warnings.push(m) } });
      const handle = await job.fire();
      expect(await handle.result({ timeoutMs: 10_000 })).toBe('done');
      expect(runs).toBe(1);
      expect(refusals).toBeGreaterThanOrEqual(2);
      expect(pool.stats().succeeded).toBe(1);
      expect(warnings).toEqual([]);
    });
  }
});
