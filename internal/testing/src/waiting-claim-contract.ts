import { expect, it } from 'vitest';
import type { ClaimRequest, StorageBackend } from '@skq/core/backend';
import { eventually, newJob, recordEvents, sleep, uniqueQueue } from './contract-fixtures.js';

/**
 * Contract cases for `waitMs` on claims: a store with `capabilities.waitingClaims` hands a delivery
 * enqueued while a claim waits to that claim, leased as a claim's; a wait ends at its time or when its
 * signal is aborted, and what was handed over is never left leased and unrun. Other stores answer at once.
 */
export function waitingClaimCases(backend: () => StorageBackend): void {
  const request = (queue: string, over: Partial<ClaimRequest> = {}): ClaimRequest => ({ queue, route: 'r', workerId: 'w-wait', limit: 5, leaseMs: 30_000, ...over });
  /** The store, for a case about waiting; the case skips on a store without them. */
  const waitingBackend = (skip: (note?: string) => void): StorageBackend => {
    const store = backend();
    if (!store.capabilities.waitingClaims) skip(`the ${store.kind} store has no waiting claims`);
    return store;
  };
  /** After a wait has ended: nobody waits any more, so a job enqueued now waits for a claim. */
  const nextJobWaits = async (queue: string) => {
    const job = newJob(queue);
    await backend().enqueue([job]);
    expect((await backend().getJob(queue, job.id))!.deliveries[0]!.state).toBe('queued');
    return job;
  };

  it('answers a claim with waitMs at once when something is due, as a claim without it', async () => {
    const queue = uniqueQueue('wait-due');
    const job = newJob(queue);
    await backend().enqueue([job]);
    const { deliveries, waited } = await backend().claim(request(queue, { waitMs: 5_000 }));
    expect(deliveries.map((d) => d.jobId)).toEqual([job.id]);
    expect(waited).not.toBe(true);
  });

  it('hands a delivery enqueued while a claim waits to that claim, leased to its worker', async (ctx) => {
    waitingBackend(ctx.skip);
    const queue = uniqueQueue('wait-handed');
    const { events, stop } = await recordEvents(backend(), queue);
    try {
      // Something else of the queue first, so its scripts and connections are ready.
      await backend().enqueue([newJob(queue, { routes: ['other'] })]);
      const claim = backend().claim(request(queue, { waitMs: 10_000 }));
      const job = newJob(queue);
      // Time for the claim to start waiting (one that has not is answered plainly: right too, not what this shows).
      expect(await Promise.race([claim.then(() => 'answered'), sleep(200).then(() => 'waiting')])).toBe('waiting');
      const sent = Date.now();
      await backend().enqueue([job]);
      const { deliveries, waited } = await claim;
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ jobId: job.id, workerId: 'w-wait', state: 'running', attempts: 1 });
      const stored = (await backend().getJob(queue, job.id))!.deliveries[0]!;
      expect(stored).toMatchObject({ state: 'running', workerId: 'w-wait', attempts: 1 });
      await backend().complete(queue, { deliveryId: deliveries[0]!.id, workerId: 'w-wait', attempt: 1 }, 'done');
      expect((await backend().getJob(queue, job.id))!.deliveries[0]!.state).toBe('succeeded');
      if (waited) {
        // Handed over: its enqueued event names the worker it went to.
        await eventually(() => events.some((e) => e.type === 'started' && e.jobId === job.id), 'the started event');
        expect(events.find((e) => e.type === 'enqueued' && e.jobId === job.id)?.workerId).toBe('w-wait');
      }
    } finally {
      await stop();
    }
  });

  it('ends a waiting claim at its time with nothing, and the next claim takes what came since', async (ctx) => {
    const store = waitingBackend(ctx.skip);
    const queue = uniqueQueue('wait-timeout');
    const started = Date.now();
    const { deliveries, waited } = await store.claim(request(queue, { waitMs: 150 }));
    expect({ deliveries, waited }).toEqual({ deliveries: [], waited: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const job = await nextJobWaits(queue);
    expect((await store.claim(request(queue))).deliveries.map((d) => d.jobId)).toEqual([job.id]);
  });

  it('ends a waiting claim whose signal is aborted, promptly', async (ctx) => {
    const store = waitingBackend(ctx.skip);
    const queue = uniqueQueue('wait-abort');
    const controller = new AbortController();
    const started = Date.now();
    const claim = store.claim(request(queue, { waitMs: 20_000, signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const { deliveries, waited } = await claim;
    expect({ deliveries, waited }).toEqual({ deliveries: [], waited: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    await nextJobWaits(queue);
  });

  it('waits on a paused route no more than a claim does: it answers paused at once', async (ctx) => {
    waitingBackend(ctx.skip);
    const queue = uniqueQueue('wait-paused');
    await backend().setPaused(queue, 'r', true);
    const started = Date.now();
    const result = await backend().claim(request(queue, { waitMs: 20_000 }));
    expect(result).toMatchObject({ deliveries: [], paused: true });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
}
