import { expect, it } from 'vitest';
import { MAX_LEASE_RECOVERIES, expiredLeaseError, type StorageBackend } from '@skq/core/backend';
import { eventually, newJob, uniqueQueue } from './contract-fixtures.js';

/**
 * Contract cases: a delivery that an expired lease ends stores core's `expiredLeaseError`, word for
 * word, whichever store holds it: the text a person reads in the monitor does not depend on the backend.
 */
export function expiredLeaseTextCases(backend: () => StorageBackend): void {
  const expire = async (queue: string, workerId: string) => {
    const { deliveries } = await backend().claim({ queue, route: 'r', workerId, limit: 1, leaseMs: 40 });
    expect(deliveries).toHaveLength(1);
    await eventually(async () => (await backend().recoverExpired(queue)) === 1, 'the expired lease taken back');
    return deliveries[0]!;
  };

  it("fails a delivery whose lease expired once more than it may be recovered, with core's LEASE_LOST text", async () => {
    const queue = uniqueQueue('lease-text-failed');
    const job = newJob(queue, { options: { attempts: 1, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 1, jitter: 0 }, timeoutMs: null } });
    await backend().enqueue([job]);
    for (let i = 0; i < MAX_LEASE_RECOVERIES; i += 1) await expire(queue, 'w-gone');
    const last = await expire(queue, 'w-gone');
    const [stored] = (await backend().getJob(queue, job.id))!.deliveries;
    expect(stored).toMatchObject({ state: 'failed', recoveries: MAX_LEASE_RECOVERIES });
    expect(stored!.error).toEqual(expiredLeaseError({ id: last.id, workerId: 'w-gone', recoveries: MAX_LEASE_RECOVERIES }, 'failed'));
  });

  it("cancels a delivery whose lease expired after a cancel was requested, with core's LEASE_LOST text", async () => {
    const queue = uniqueQueue('lease-text-cancelled');
    const job = newJob(queue);
    await backend().enqueue([job]);
    const { deliveries } = await backend().claim({ queue, route: 'r', workerId: 'w-gone', limit: 1, leaseMs: 40 });
    expect(await backend().cancel(queue, job.id)).toBe(true);
    await eventually(async () => (await backend().recoverExpired(queue)) === 1, 'the expired lease taken back');
    const [stored] = (await backend().getJob(queue, job.id))!.deliveries;
    expect(stored).toMatchObject({ state: 'cancelled' });
    expect(stored!.error).toEqual(expiredLeaseError({ id: deliveries[0]!.id, workerId: 'w-gone', recoveries: 0 }, 'cancelled'));
  });
}
