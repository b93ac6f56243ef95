import { describe, expect, it } from 'vitest';
import { newJobId } from '../src/job/job-id.js';

describe('job ids', () => {
  it('are ULIDs carrying the time, so that ids made later sort later', () => {
    const at = Date.UTC(2026, 10, 23, 12, 0, 0);
    const id = newJobId(at);
    expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    const base32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    expect([...id.slice(0, 10)].reduce((ms, c) => ms * 32 + base32.indexOf(c), 0)).toBe(at);
    const ids = [0, 1, 2, 1_000, 60_000].map((ms) => newJobId(1_795_000_000_000 + ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it('differ within one millisecond, and past the counter\'s 4,096', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newJobId(1_795_000_000_000)));
    expect(ids.size).toBe(10_000);
  });

  it('spread their random characters evenly', () => {
    // 68 random bits an id: each of the last 13 characters takes every value about as often.
    const seen = Array.from({ length: 13 }, () => new Map<string, number>());
    for (let i = 0; i < 32_000; i += 1) [...newJobId(1_795_000_000_000 + i).slice(13)].forEach((c, at) => seen[at]!.set(c, (seen[at]!.get(c) ?? 0) + 1));
    for (const counts of seen) {
      expect(counts.size).toBe(32);
      for (const n of counts.values()) expect(n).toBeGreaterThan(700);
    }
  });

  it('sort in the order they were made within one millisecond, so a batch fills index pages in order', () => {
    const ids = Array.from({ length: 1_000 }, () => newJobId(1_796_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1_000);
  });
});
