import { expect, it } from 'vitest';
import { isSkqError, type JobEvent } from '@skq/core';
import { leaseOf, type StorageBackend } from '@skq/core/backend';
import { eventually, newJob, uniqueQueue } from './contract-fixtures.js';

/**
 * The contract case for closing a backend while its event feed is delivering (issue 21, item 20):
 * a subscription receives events under load, then the backend closes. Afterwards nothing of it may
 * still run: no listener call, no unhandled rejection or exception from a callback scheduled before
 * the close, and calls are refused with `BACKEND_UNAVAILABLE`. `open` opens another connection to the
 * store of the suite; `backend` is one that stays open, to keep writing.
 */
export function closeWhilePumpingCase(open: () => Promise<StorageBackend>, backend: () => StorageBackend): void {
  it('closes while its event feed delivers under load: no listener call, no error after close', async () => {
    const problems: unknown[] = [];
    const onProblem = (err: unknown) => problems.push(err);
    process.on('unhandledRejection', onProblem);
    process.on('uncaughtException', onProblem);
    const queue = uniqueQueue('close-pump');
    const closing = await open();
    const writer = backend();
    let closed = false;
    let received = 0;
    const late: JobEvent[] = [];
    let stop = false;
    try {
      await closing.subscribe(queue, (event) => {
        if (closed) late.push(event);
        else received += 1;
      });
      // Another connection keeps writing, so the feed has events to deliver at the moment of the close
      // and after it; the closing backend itself claims and completes, so its own steps are in flight too.
      let written = 0;
      const load = (async () => {
        while (!stop) {
          await writer.enqueue(Array.from({ length: 10 }, () => newJob(queue)));
          written += 10;
        }
      })();
      const ownErrors: unknown[] = [];
      const own = (async () => {
        while (!stop) {
          try {
            const { deliveries } = await closing.claim({ queue, route: 'r', workerId: 'closing', limit: 5, leaseMs: 30_000 });
            for (const d of deliveries) await closing.complete(queue, leaseOf(d), null);
            await closing.enqueue([newJob(queue)]);
          } catch (err) {
            ownErrors.push(err);
            return;
          }
        }
      })();
      await eventually(() => received >= 30, 'the feed to deliver events under load', 20_000);
      await closing.close();
      closed = true;
      // The store goes on changing for a while after the close: whatever the closed backend had
      // scheduled (a poll, a delivery, a reconnect) has had its turn by the time 100 more jobs are in.
      const after = written;
      await eventually(() => written >= after + 100, '100 more jobs to be written after the close', 20_000);
      stop = true;
      await load;
      await own;
      await new Promise((resolve) => setImmediate(resolve));
      expect(late).toEqual([]);
      expect(problems).toEqual([]);
      // A step of the closed backend that was under way may finish or fail; one that fails says the backend is closed or away.
      for (const err of ownErrors) expect(isSkqError(err, 'BACKEND_UNAVAILABLE'), String(err)).toBe(true);
      await expect(closing.enqueue([newJob(queue)])).rejects.toSatisfy((err: unknown) => isSkqError(err, 'BACKEND_UNAVAILABLE'));
      await closing.close();
    } finally {
      stop = true;
      process.off('unhandledRejection', onProblem);
      process.off('uncaughtException', onProblem);
      if (!closed) await closing.close();
    }
  });
}
