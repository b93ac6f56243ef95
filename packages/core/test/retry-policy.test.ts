import { describe, expect, it } from 'vitest';
import { retryDelay, toRunOptions, RetryOptionsSchema } from '@skq/core/backend';

const noJitter = { maxDelayMs: 10_000, jitter: 0 };

describe('retry policy', () => {
  it('waits a fixed delay', () => {
    expect([1, 2, 5].map((a) => retryDelay({ type: 'fixed', delayMs: 300, ...noJitter }, a))).toEqual([300, 300, 300]);
  });

  it('doubles exponential delays up to the cap', () => {
    expect([1, 2, 3, 10].map((a) => retryDelay({ type: 'exponential', delayMs: 100, ...noJitter }, a))).toEqual([100, 200, 400, 10_000]);
  });

  it('spreads delays by the jitter fraction', () => {
    const backoff = { type: 'fixed' as const, delayMs: 1_000, maxDelayMs: 10_000, jitter: 0.2 };
    expect(retryDelay(backoff, 1, () => 0)).toBe(800);
    expect(retryDelay(backoff, 1, () => 0.5)).toBe(1_000);
    expect(retryDelay(backoff, 1, () => 0.999999)).toBe(1_200);
  });

  it('normalises a number or an object into stored run options', () => {
    expect(toRunOptions(RetryOptionsSchema.parse(3), 500)).toMatchObject({ attempts: 3, timeoutMs: 500, backoff: { type: 'exponential' } });
    expect(toRunOptions(RetryOptionsSchema.parse({ attempts: 2, backoff: { type: 'fixed', delayMs: 5 } }), undefined)).toEqual({
      attempts: 2,
      timeoutMs: null,
      backoff: { type: 'fixed', delayMs: 5, maxDelayMs: 3_600_000, jitter: 0.2 },
    });
    expect(RetryOptionsSchema.safeParse({ attempts: 0 }).success).toBe(false);
  });
});
