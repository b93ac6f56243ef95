import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { checkJobSizes, cutText, fitError, fitLogLine, resultTooLarge, valueLimit, MAX_ERROR_TEXT_BYTES, MAX_LOG_LINE_BYTES, type NewJob } from '@skq/core/backend';

describe('value limits: what a store is given fits it', () => {
  it('cuts text to a byte budget with a marker saying how much, never splitting a character', () => {
    expect(cutText('short', 100)).toBe('short');
    const cut = cutText('é'.repeat(1_000), 101);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(101);
    expect(cut).toMatch(/^é+… \[cut: \d+ more bytes\]$/);
    const kept = Buffer.byteLength(cut.slice(0, cut.indexOf('…')));
    expect(Number(/cut: (\d+)/.exec(cut)![1])).toBe(2_000 - kept);
  });

  it('cuts an error\'s message and stack to fit, even when JSON escapes make it longer than its text', () => {
    const huge = fitError({ name: 'Error', message: 'e'.repeat(500_000), stack: 's'.repeat(500_000), code: 'X' });
    expect(Buffer.byteLength(huge.message)).toBeLessThanOrEqual(MAX_ERROR_TEXT_BYTES);
    expect(huge.stack).toMatch(/… \[cut: \d+ more bytes\]$/);
    expect(huge.code).toBe('X');
    // Control characters take six bytes each in JSON.
    const escaped = fitError({ name: 'Error', message: '\u0001'.repeat(60_000), stack: '\u0002'.repeat(60_000) }, 90_000);
    expect(Buffer.byteLength(JSON.stringify(escaped))).toBeLessThanOrEqual(90_000);
    expect(fitError({ name: 'Error', message: 'small' }, 90_000)).toEqual({ name: 'Error', message: 'small' });
  });

  it('refuses a result over the limit with RESULT_TOO_LARGE, and cuts log lines', () => {
    expect(resultTooLarge(JSON.stringify('x'.repeat(100)), 1_000)).toBeNull();
    const refused = resultTooLarge(JSON.stringify('x'.repeat(2_000)), 1_000, { jobId: 'j' });
    expect(refused).toBeInstanceOf(SkqError);
    expect(refused).toMatchObject({ code: 'RESULT_TOO_LARGE', context: { jobId: 'j', bytes: 2_002, maxBytes: 1_000 } });
    const line = fitLogLine({ deliveryId: 'j.0', at: 1, stream: 'log', line: 'y'.repeat(200_000) });
    expect(Buffer.byteLength(line.line)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    expect(fitLogLine({ deliveryId: 'j.0', at: 1, stream: 'log', line: '"'.repeat(80_000) }, 90_000).line.length).toBeLessThan(45_000);
    expect(valueLimit(undefined)).toBe(Infinity);
    expect(valueLimit({ maxValueBytes: 90_000 })).toBe(90_000);
  });

  it('refuses a batch holding a job over the limit before anything is written, naming it', () => {
    const job = (id: string, args: unknown[]): NewJob => ({ id, queue: 'q', name: 'n', args, routes: ['r'], type: 'direct', priority: 0, runAt: 0, createdAt: 0, options: { attempts: 1, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 0, jitter: 0 }, timeoutMs: null }, dedupeKey: null });
    expect(() => checkJobSizes([job('a', ['x'.repeat(100_000)])], undefined)).not.toThrow();
    expect(() => checkJobSizes([job('a', []), job('b', ['x'.repeat(100_000)])], 90_000)).toThrow(/job 2 of 2 \(b, "n"\) is \d+ bytes of JSON; this store keeps at most 90000 per job, so none of the 2 was stored/);
  });
});
