import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { durationToMs, resolveWhen } from '@skq/core/backend';

describe('delays', () => {
  it('combines units and accepts floats', () => {
    expect(durationToMs({ days: 1, hours: 1.5, minutes: 0.5, seconds: 2.25, millis: 10 })).toBe(86_400_000 + 5_400_000 + 30_000 + 2_250 + 10);
    expect(durationToMs({})).toBe(0);
  });

  it('resolves a Date, a number of ms and a duration against now', () => {
    const now = 1_000_000;
    expect(resolveWhen(new Date(5_000), now)).toBe(5_000);
    expect(resolveWhen(1_500, now)).toBe(now + 1_500);
    expect(resolveWhen({ seconds: 0.5, millis: 1 }, now)).toBe(now + 501);
  });

  it('rejects bad input with a typed error naming the field', () => {
    expect(() => resolveWhen({ weeks: 1 } as never, 0, 'options.at')).toThrowError(/invalid options.at/);
    expect(() => resolveWhen(-5)).toThrowError(SkqError);
    expect(() => resolveWhen(new Date('nope'))).toThrowError(/invalid/);
    try {
      resolveWhen('tomorrow' as never);
    } catch (err) {
      expect(err).toMatchObject({ code: 'ARGS_INVALID', context: { field: 'when' } });
    }
  });
});
