import { describe, expect, it } from 'vitest';
import { AimdInterval, RtoInterval, SlowStartInterval } from '@skq/core';
import { type IntervalPolicy, type RunOutcome } from '@skq/core/backend';

function run(policy: IntervalPolicy, outcomes: RunOutcome[]): number[] {
  let state = policy.initial();
  return outcomes.map((outcome) => (state = policy.next(state, outcome)).intervalMs);
}
const ok = (durationMs: number): RunOutcome => ({ durationMs, ok: true });
const failed: RunOutcome = { durationMs: 10, ok: false };

describe('AIMD interval', () => {
  it('shrinks additively on good runs and grows multiplicatively on bad ones, within bounds', () => {
    const aimd = new AimdInterval({ minMs: 1_000, maxMs: 10_000, initialMs: 4_000, stepMs: 1_000 });
    expect(aimd.initial().intervalMs).toBe(4_000);
    expect(run(aimd, [ok(10), ok(10), ok(10), ok(10), failed, ok(10), ok(9_999), failed, failed])).toEqual([
      3_000, 2_000, 1_000, 1_000, 2_000, 1_000, 2_000, 4_000, 8_000,
    ]);
  });

  it('counts an overrun (a run longer than the interval) as bad', () => {
    const aimd = new AimdInterval({ minMs: 100, maxMs: 10_000, initialMs: 1_000, stepMs: 100, factor: 3 });
    expect(run(aimd, [ok(1_500), ok(50)])).toEqual([3_000, 2_900]);
  });

  it('refuses bad options', () => {
    expect(() => new AimdInterval({ minMs: 10, maxMs: 5, stepMs: 1 })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new AimdInterval({ minMs: 1, maxMs: 5, stepMs: 1, factor: 1 })).toThrowError(expect.objectContaining({ context: { field: 'factor' } }));
  });
});

describe('RTO interval', () => {
  it('follows RFC 6298: SRTT + 4·RTTVAR with alpha 1/8 and beta 1/4', () => {
    const rto = new RtoInterval({ minMs: 1, maxMs: 1_000_000 });
    let state = rto.next(rto.initial(), ok(800));
    expect(state).toEqual({ intervalMs: 800 + 4 * 400, srtt: 800, rttvar: 400 });
    state = rto.next(state, ok(1_200));
    // RTTVAR = 3/4·400 + 1/4·|800 − 1200| = 400; SRTT = 7/8·800 + 1/8·1200 = 850.
    expect(state).toEqual({ intervalMs: 850 + 4 * 400, srtt: 850, rttvar: 400 });
  });

  it('doubles on failure without learning from it, and stays within bounds', () => {
    const rto = new RtoInterval({ minMs: 500, maxMs: 5_000 });
    expect(run(rto, [ok(100), failed, failed, failed, ok(100)])).toEqual([500, 1_000, 2_000, 4_000, 500]);
  });
});

describe('slow start interval', () => {
  it('halves to the threshold, then steps linearly, and restarts on failure', () => {
    const slow = new SlowStartInterval({ minMs: 1_000, maxMs: 64_000, thresholdMs: 8_000, stepMs: 1_000 });
    expect(slow.initial()).toEqual({ intervalMs: 64_000, thresholdMs: 8_000 });
    expect(run(slow, [ok(1), ok(1), ok(1), ok(1), ok(1), ok(1)])).toEqual([32_000, 16_000, 8_000, 7_000, 6_000, 5_000]);
    let state = slow.initial();
    for (const outcome of [ok(1), ok(1), ok(1), ok(1)]) state = slow.next(state, outcome); // 7 s
    state = slow.next(state, failed);
    expect(state).toEqual({ intervalMs: 64_000, thresholdMs: 14_000 });
    expect(slow.next(slow.next(state, ok(1)), ok(1)).intervalMs).toBe(16_000);
  });
});
