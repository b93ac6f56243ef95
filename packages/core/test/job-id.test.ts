import { describe, expect, it } from 'vitest';
import { newJobId } from '../src/job/job-id.js';

describe('job ids', () => {
  it('are UUIDs of version 7 carrying the time, so that ids made later sort later', () => {
    const id = newJobId(Date.UTC(2026, 10, 23, 12, 0, 0));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(Date.UTC(2026, 10, 23, 12, 0, 0));
    const ids = [0, 1, 2, 1_000, 60_000].map((ms) => newJobId(1_795_000_000_000 + ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it('differ within one millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newJobId(1_795_000_000_000)));
    expect(ids.size).toBe(10_000);
  });

  it('sort in the order they were made within one millisecond, so a batch fills index pages in order', () => {
    const ids = Array.from({ length: 1_000 }, () => newJobId(1_796_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1_000);
  });
});
