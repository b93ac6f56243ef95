// The checker's rules on made-up histories: each violation it exists to find, found; each explained
// repeat, explained.
import { describe, expect, it } from 'vitest';
import type { Delivery, JobRecord, ScheduleRecord } from '@skq/core';
import { checkRun, type CheckInput } from '../src/checker.js';
import type { LedgerEntry } from '../src/ledger.js';

const PREFIX = 'sched:chaos:tick:';

function delivery(jobId: string, overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: `${jobId}.0`, jobId, queue: 'chaos', route: 'main', targetWorker: null, state: 'succeeded', priority: 0, runAt: 0, attempts: 1, maxAttempts: 1, recoveries: 0,
    workerId: 'w1', leaseUntil: null, startedAt: 1, finishedAt: 2, result: null, error: null, cancelRequested: false, progress: null, ...overrides,
  };
}

function job(id: string, deliveries: Delivery[] = [delivery(id)], state: JobRecord['state'] = deliveries.every((d) => d.state === 'succeeded') ? 'succeeded' : deliveries[0]!.state): JobRecord {
  return { id, queue: 'chaos', name: 'chaos.quick', args: [], routes: ['main'], type: 'direct', priority: 0, createdAt: 0, dedupeKey: null, options: { attempts: 1, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 0, jitter: 0 }, timeoutMs: null }, state, attempts: 1, startedAt: 1, finishedAt: 2, progress: null, deliveries };
}

const acked = (id: string, at = 0, kind: 'quick' | 'broadcast' | 'conjunction' = 'quick', extra: object = {}): LedgerEntry => ({ t: 'acked', at, job: id, queue: 'chaos', kind, ...extra });
const start = (id: string, at: number, attempt: number, pid: number, step = 0, index = 0): LedgerEntry => ({ t: 'start', at, job: id, delivery: `${id}.${index}`, step, attempt, pid, worker: `w${pid}`, name: 'chaos.quick' });
const end = (id: string, at: number, attempt: number, pid: number, ok: boolean, step = 0): LedgerEntry => ({ t: 'end', at, job: id, delivery: `${id}.0`, step, attempt, pid, ok });

function check(ledger: LedgerEntry[], jobs: JobRecord[], extra: Partial<CheckInput> = {}) {
  return checkRun({ ledger, jobs, schedule: null, tickEveryMs: 100, tickJobPrefix: PREFIX, registrationTtlMs: 3_000, leaseMs: 2_000, sharedWriteLock: false, checkedAt: 100_000, ...extra });
}

describe('the chaos checker', () => {
  it('passes a clean history', () => {
    const report = check([acked('a'), start('a', 1, 1, 10), end('a', 2, 1, 10, true)], [job('a')]);
    expect(report.violations).toEqual([]);
    expect(report.rows.every((r) => r.ok)).toBe(true);
  });

  it('finds a lost job, a stuck one and one running past its lease', () => {
    const report = check(
      [acked('lost'), acked('stuck'), acked('late'), start('late', 1, 1, 10)],
      [job('stuck', [delivery('stuck', { state: 'queued' })]), job('late', [delivery('late', { state: 'running', leaseUntil: 50_000 })])],
    );
    expect(report.figures).toMatchObject({ lost: 1, stuck: 2, runningPastLease: 1 });
    expect(report.violations.join('\n')).toMatch(/lost: job lost[\s\S]*stuck: job stuck[\s\S]*running past its lease/);
  });

  it('counts a retry after a failure as planned, and explains a repeat by the kill of its worker', () => {
    const report = check(
      [acked('r'), start('r', 1, 1, 10), end('r', 2, 1, 10, false), start('r', 3, 2, 11), end('r', 4, 2, 11, true), acked('k'), start('k', 1, 1, 12), { t: 'fault', at: 5, action: 'SIGKILL', pid: 12, role: 'worker' }, start('k', 9, 2, 13), end('k', 10, 2, 13, true)],
      [job('r'), job('k')],
    );
    expect(report.violations).toEqual([]);
    expect(report.figures).toMatchObject({ retries: 1, duplicates: 1, duplicatesByReason: { 'worker SIGKILLed': 1 }, recoveryMs: [4] });
  });

  it('blames the older attempt when, paused past its lease, it starts a part after the newer one', () => {
    const report = check(
      [
        acked('z', 0, 'conjunction'),
        start('z', 1, 1, 10, 1),
        end('z', 2, 1, 10, true, 1),
        start('z', 3, 1, 10, 2),
        { t: 'fault', at: 50, action: 'SIGSTOP', pid: 10, role: 'worker', until: 3_050 },
        start('z', 2_500, 2, 11, 1),
        end('z', 2_510, 2, 11, true, 1),
        start('z', 2_520, 2, 11, 2),
        end('z', 2_530, 2, 11, true, 2),
        start('z', 2_540, 2, 11, 3),
        end('z', 2_550, 2, 11, true, 3),
        { t: 'fault', at: 3_060, action: 'SIGCONT', pid: 10, role: 'worker' },
        end('z', 3_070, 1, 10, true, 2),
      ],
      [job('z')],
    );
    expect(report.violations).toEqual([]);
    expect(report.figures.duplicatesByReason).toEqual({ 'worker paused past its lease': 2 });
  });

  it('explains a repeat by a server restart in the lease before the older attempt started (it was prefetched)', () => {
    // Claimed before the restart and held for a slot: its lease ran out while the server was away.
    const report = check(
      [acked('p'), { t: 'fault', at: 100, action: 'restart', pid: 1, role: 'server', until: 1_600 }, start('p', 1_700, 1, 10), start('p', 2_100, 2, 11), end('p', 2_300, 1, 10, true), end('p', 2_400, 2, 11, true)],
      [job('p')],
    );
    expect(report.violations).toEqual([]);
    expect(report.figures).toMatchObject({ duplicates: 1, duplicatesByReason: { 'server restarted': 1 } });
  });

  it('flags a repeat nothing explains, and an attempt that ran twice', () => {
    const report = check([acked('u'), start('u', 1, 1, 10), end('u', 2, 1, 10, true), start('u', 3, 1, 11), end('u', 4, 1, 11, true)], [job('u')]);
    expect(report.violations.join('\n')).toMatch(/attempt 1 of delivery u\.0 ran twice[\s\S]*unexplained/);
    // Still running when the next attempt began, on a live worker: its renewals should have kept it.
    const overlapping = check([acked('o'), start('o', 1, 1, 10), start('o', 2_500, 2, 11), end('o', 3_000, 1, 10, true), end('o', 3_100, 2, 11, true)], [job('o')]);
    expect(overlapping.violations.join('\n')).toMatch(/unexplained: delivery o\.0/);
    // Ended before, with the next attempt a lease later: its outcome landed too late, which is explained.
    const late = check([acked('l'), start('l', 1, 1, 10), end('l', 500, 1, 10, true), start('l', 2_500, 2, 11), end('l', 2_600, 2, 11, true)], [job('l')]);
    expect(late.violations).toEqual([]);
    expect(late.figures.duplicatesByReason).toEqual({ 'outcome stored after its lease ended (slow server)': 1 });
  });

  it('flags a success whose handler never started, and an unexpected failure', () => {
    const report = check([acked('s'), acked('f')], [job('s'), job('f', [delivery('f', { state: 'failed', error: { message: 'x', code: 'ARGS_INVALID' } })])]);
    const found = report.violations.join('\n');
    expect(found).toMatch(/success without a run: delivery s\.0/);
    expect(found).toMatch(/unexpected failure: quick job f failed with ARGS_INVALID/);
  });

  it('knows a job stored without an acknowledgement by its name', () => {
    const unacked = { ...job('g', [delivery('g', { state: 'failed', error: { message: 'gone', code: 'WORKER_GONE' }, targetWorker: 'w3' })]), name: 'chaos.hello' };
    expect(check([], [unacked]).violations).toEqual([]);
  });

  it('checks each schedule tick fired once, on its grid', () => {
    const ticks = [1_000, 1_100, 1_300, 1_350].map((t) => job(`${PREFIX}${t}`));
    const schedule = { firedCount: 5 } as ScheduleRecord;
    const report = check([], ticks, { schedule });
    expect(report.violations.join('\n')).toMatch(/tick 1350 is off the 100 ms grid[\s\S]*counts 5 firings but 4 tick jobs/);
  });

  it('checks broadcast deliveries against the workers listening, and registrations against their TTL', () => {
    const fanout = job('b', [delivery('b', { targetWorker: 'w1' }), { ...delivery('b', { targetWorker: 'w9' }), id: 'b.1' }]);
    const report = check(
      [
        acked('b', 0, 'broadcast', { workersBefore: ['w1', 'w2'], workersAfter: ['w1', 'w2'] }),
        start('b', 1, 1, 1),
        start('b', 1, 1, 9, 0, 1),
        { t: 'exited', at: 10_000, pid: 7, code: null, signal: 'SIGKILL' },
        { t: 'registrations', at: 14_000, queue: 'chaos', workers: [{ id: 'w7', pid: 7 }] },
      ],
      [fanout],
    );
    const found = report.violations.join('\n');
    expect(found).toMatch(/broadcast b: no delivery for listening w2 a delivery for w9/);
    expect(found).toMatch(/registration of worker w7 .* listed 4000 ms after its process ended/);
  });

  describe('groups', () => {
    const GROUPS = { concurrency: 2, rated: 'rated', rate: { max: 2, perMs: 1_000 } };
    const gAcked = (id: string, group: string, at = 0): LedgerEntry => ({ t: 'acked', at, job: id, queue: 'chaos', kind: 'grouped', group });
    const gStart = (id: string, group: string, at: number, pid = 10, attempt = 1): LedgerEntry => ({ t: 'start', at, job: id, delivery: `${id}.0`, step: 0, attempt, pid, worker: `w${pid}`, name: 'chaos.grouped', group });
    const gEnd = (id: string, at: number, pid = 10, attempt = 1): LedgerEntry => ({ t: 'end', at, job: id, delivery: `${id}.0`, step: 0, attempt, pid, ok: true });
    const gJob = (id: string, group: string, startedAt = 1, pid = 10) => ({ ...job(id, [delivery(id, { workerId: `w${pid}`, startedAt })]), group });
    const groupRows = (report: ReturnType<typeof check>) => report.rows.filter((r) => r.check.startsWith('groups:'));

    it('passes runs within the limits, and reports the most at once', () => {
      const ledger = [gAcked('a', 'g1'), gAcked('b', 'g1'), gAcked('c', 'g1'), gStart('a', 'g1', 1), gStart('b', 'g1', 2, 11), gEnd('a', 5), gStart('c', 'g1', 5, 12), gEnd('b', 6, 11), gEnd('c', 7, 12)];
      const report = check(ledger, [gJob('a', 'g1'), gJob('b', 'g1', 2, 11), gJob('c', 'g1', 5, 12)], { groups: GROUPS });
      expect(report.violations).toEqual([]);
      expect(groupRows(report)[0]).toMatchObject({ value: 'g1 2', ok: true });
    });

    it('finds more runs of a group at once than its limit, counting only runs the store accepted', () => {
      const ledger = [gAcked('a', 'g1'), gAcked('b', 'g1'), gAcked('c', 'g1'), gStart('a', 'g1', 1), gStart('b', 'g1', 2, 11), gStart('c', 'g1', 3, 12), gEnd('a', 9), gEnd('b', 9, 11), gEnd('c', 9, 12)];
      const over = check(ledger, [gJob('a', 'g1'), gJob('b', 'g1', 2, 11), gJob('c', 'g1', 3, 12)], { groups: GROUPS });
      expect(over.violations.join('\n')).toMatch(/group g1: 3 runs at once at 3, beyond its limit of 2/);
      expect(groupRows(over)[0]!.ok).toBe(false);
      // The third run's completion was refused (another attempt succeeded): it does not count.
      const refused = check(ledger, [gJob('a', 'g1'), gJob('b', 'g1', 2, 11), { ...job('c', [delivery('c', { workerId: 'w13', attempts: 2 })]), group: 'g1' }], { groups: GROUPS });
      expect(refused.violations.filter((v) => v.startsWith('group'))).toEqual([]);
    });

    it('finds more starts in a window than the rate, by the store\'s start times', () => {
      const ledger = ['a', 'b', 'c'].flatMap((id, i) => [gAcked(id, 'rated'), gStart(id, 'rated', 100 + i * 500), gEnd(id, 101 + i * 500)]);
      const jobs = [gJob('a', 'rated', 100), gJob('b', 'rated', 600), gJob('c', 'rated', 1_099)];
      expect(check(ledger, jobs, { groups: GROUPS }).violations.join('\n')).toMatch(/group rated: 3 starts within 1000 ms from 100, beyond its rate of 2/);
      expect(check(ledger, [gJob('a', 'rated', 100), gJob('b', 'rated', 600), gJob('c', 'rated', 1_100)], { groups: GROUPS }).violations).toEqual([]);
    });

    it('finds a group that waited with room while the others started again and again', () => {
      const ledger: LedgerEntry[] = [gAcked('s', 'g2', 0)];
      const jobs = [gJob('s', 'g2', 5_000)];
      for (let i = 0; i < 60; i += 1) {
        ledger.push(gAcked(`o${i}`, 'g1', 0), gStart(`o${i}`, 'g1', 10 + i * 10, 10), gEnd(`o${i}`, 15 + i * 10, 10));
        jobs.push(gJob(`o${i}`, 'g1', 10 + i * 10));
      }
      ledger.push(gStart('s', 'g2', 5_000, 11), gEnd('s', 5_001, 11));
      const report = check(ledger, jobs, { groups: GROUPS });
      expect(report.violations.join('\n')).toMatch(/group g2 starved: 41 starts of other groups/);
      expect(groupRows(report)[2]).toMatchObject({ value: 'g2', ok: false });
      // The same history with a fault throughout proves nothing: a paused worker may hold the job.
      const faulted = check([...ledger, { t: 'fault', at: 0, action: 'SIGSTOP', pid: 99, role: 'worker', until: 6_000 }], jobs, { groups: GROUPS });
      expect(faulted.violations.filter((v) => v.includes('starved'))).toEqual([]);
    });
  });
});
