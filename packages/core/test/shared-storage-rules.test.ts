import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventInterest, deliveryState, failureOutcome, newDelivery, requestedFailureOutcome, scheduleFingerprint, scheduleSaveOutcome } from '../src/backend.js';
import { EVENT_INTEREST_MS } from '../src/storage/event-interest.js';

describe('failure outcome', () => {
  it('is cancelled when the attempt ended by cancellation or a cancel was requested, else retrying with a retry time, else failed', () => {
    const cases: [Parameters<typeof failureOutcome>[0], boolean, string][] = [
      [{ cancelled: true, retryAt: 5 }, false, 'cancelled'],
      [{ retryAt: 5 }, true, 'cancelled'],
      [{ cancelled: false, retryAt: 0 }, false, 'retrying'],
      [{ retryAt: null }, false, 'failed'],
      [{}, false, 'failed'],
    ];
    for (const [request, cancelRequested, outcome] of cases) expect(failureOutcome(request, { cancelRequested })).toBe(outcome);
  });

  it('splits into what the worker asked and what the store adds: a requested cancel wins', () => {
    expect(requestedFailureOutcome({ retryAt: 5 })).toBe('retrying');
    expect(requestedFailureOutcome({ cancelled: true })).toBe('cancelled');
    expect(requestedFailureOutcome({})).toBe('failed');
  });
});

describe('schedule fingerprint', () => {
  const def = { rule: { kind: 'every', everyMs: 1_000 }, job: { name: 'tick', args: [1] } } as unknown as Parameters<typeof scheduleFingerprint>[0];

  it('is the rule and job as JSON, so a stored one compares equal as text', () => {
    expect(scheduleFingerprint(def)).toBe(JSON.stringify({ rule: def.rule, job: def.job }));
    expect(scheduleFingerprint({ ...def, id: 'other', nextRunAt: 9 } as typeof def)).toBe(scheduleFingerprint(def));
  });

  it('decides created, unchanged or updated from the stored fingerprint', () => {
    const text = scheduleFingerprint(def);
    expect(scheduleSaveOutcome(null, text)).toBe('created');
    expect(scheduleSaveOutcome(undefined, text)).toBe('created');
    expect(scheduleSaveOutcome(text, text)).toBe('unchanged');
    expect(scheduleSaveOutcome('{"rule":{},"job":{}}', text)).toBe('updated');
  });
});

describe('new delivery', () => {
  it('is queued at the job run time and priority, with its attempt budget and nothing claimed', () => {
    const job = { id: 'job-1', priority: 3, runAt: 42, options: { attempts: 5 } } as Parameters<typeof newDelivery>[0];
    expect(newDelivery(job, { route: 'r', targetWorker: 'w1' }, 2)).toEqual({
      id: 'job-1.2',
      jobId: 'job-1',
      route: 'r',
      targetWorker: 'w1',
      state: 'queued',
      priority: 3,
      runAt: 42,
      attempts: 0,
      maxAttempts: 5,
      recoveries: 0,
      workerId: null,
      leaseUntil: null,
      startedAt: null,
      finishedAt: null,
      result: null,
      error: null,
      cancelRequested: false,
      progress: null,
    });
  });
});

describe('delivery state', () => {
  it('shows a queued delivery whose run time is ahead as scheduled, and every other state as stored', () => {
    expect(deliveryState('queued', 101, 100)).toBe('scheduled');
    expect(deliveryState('queued', 100, 100)).toBe('queued');
    expect(deliveryState('running', 101, 100)).toBe('running');
    expect(deliveryState('failed', 101, 100)).toBe('failed');
  });
});

describe('event interest', () => {
  afterEach(() => void vi.useRealTimers());

  it('says what a subscription hears before it starts, again every third of the interest while one is open, and stops once all are closed', async () => {
    vi.useFakeTimers();
    const said: string[] = [];
    const order: string[] = [];
    const interest = new EventInterest(async (queue, types, forMs) => {
      expect(forMs).toBe(EVENT_INTEREST_MS);
      said.push(`${queue}:${types.join(',')}`);
      order.push('announce');
    });
    const stopA = await interest.subscribe('q', ['succeeded', 'failed'], async () => {
      order.push('start');
      return () => order.push('stop');
    });
    expect(order).toEqual(['announce', 'start']);
    const stopB = await interest.subscribe('q', ['failed'], async () => () => undefined);
    said.length = 0;
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS / 3);
    expect(said).toEqual(['q:succeeded,failed']);
    // Closing one keeps what the other hears; closing it twice changes nothing.
    await stopA();
    await stopA();
    expect(order.filter((o) => o === 'stop')).toHaveLength(1);
    said.length = 0;
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS / 3);
    expect(said).toEqual(['q:failed']);
    await stopB();
    said.length = 0;
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS);
    expect(said).toEqual([]);
  });

  it('keeps renewing after a renewal fails, and starts no subscription whose announcement failed', async () => {
    vi.useFakeTimers();
    let fail = false;
    let calls = 0;
    const interest = new EventInterest(async () => {
      calls += 1;
      if (fail) throw new Error('store down');
    });
    await interest.subscribe('q', ['enqueued'], async () => () => undefined);
    fail = true;
    let started = false;
    await expect(interest.subscribe('q', ['started'], async () => ((started = true), () => undefined))).rejects.toThrow('store down');
    expect(started).toBe(false);
    calls = 0;
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS / 3);
    fail = false;
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS / 3);
    expect(calls).toBe(2);
    interest.close();
    await vi.advanceTimersByTimeAsync(EVENT_INTEREST_MS);
    expect(calls).toBe(2);
  });
});
