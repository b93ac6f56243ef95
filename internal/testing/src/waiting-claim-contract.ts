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

  it('answers a claim with waitMs at once when something is due, as a claim without it', async () => {
    const queue = uniqueQueue('wait-due');
    const job = newJob(queue);
    await backend().enqueue([job]);
    const { deliveries, waited } = await backend().claim(request(queue, { waitMs: 5_000 }));
    expect(deliveries.map((d) => d.jobId)).toEqual([job.id]);
    expect(waited).not.toBe(true);
  });

  it('hands a delivery enqueued while a claim waits to that claim, leased to its worker', async () => {
    if (!backend().capabilities.waitingClaims) return;
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

  it('ends a waiting claim at its time with nothing, and the next claim takes what came since', async () => {
    if (!backend().capabilities.waitingClaims) return;
    const queue = uniqueQueue('wait-timeout');
    const started = Date.now();
    const { deliveries, waited } = await backend().claim(request(queue, { waitMs: 150 }));
    expect(deliveries).toEqual([]);
    expect(waited).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const job = newJob(queue);
    await backend().enqueue([job]);
    // Nobody waits any more: the job waits for a claim, not for a worker that was parked.
    expect((await backend().getJob(queue, job.id))!.deliveries[0]!.state).toBe('queued');
    expect((await backend().claim(request(queue))).deliveries.map((d) => d.jobId)).toEqual([job.id]);
  });

  it('ends a waiting claim whose signal is aborted, promptly', async () => {
    if (!backend().capabilities.waitingClaims) return;
    const queue = uniqueQueue('wait-abort');
    const controller = new AbortController();
    const started = Date.now();
    const claim = backend().claim(request(queue, { waitMs: 20_000, signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const { deliveries, waited } = await claim;
    expect(deliveries).toEqual([]);
    expect(waited).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    const job = newJob(queue);
    await backend().enqueue([job]);
    expect((await backend().getJob(queue, job.id))!.deliveries[0]!.state).toBe('queued');
  });

  it('waits on a paused route no more than a claim does: it answers paused at once', async () => {
    if (!backend().capabilities.waitingClaims) return;
    const queue = uniqueQueue('wait-paused');
    await backend().setPaused(queue, 'r', true);
    const started = Date.now();
    const result = await backend().claim(request(queue, { waitMs: 20_000 }));
    expect(result).toMatchObject({ deliveries: [], paused: true });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
}
