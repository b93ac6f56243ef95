// The checker of a chaos run: what the ledger says was acknowledged and run, against what the backend
// holds after the run. A pure function of both, so that its rules are tested on made-up histories.
import { type JobRecord, type ScheduleRecord } from '@skq/core';
import { TERMINAL_STATES } from '@skq/core/backend';
import { checkGroups, type GroupLimitsOfRun } from './group-checks.js';
import type { FaultAction, JobKind, LedgerEntry } from './ledger.js';

export interface CheckInput {
  ledger: LedgerEntry[];
  /** Every job the backend lists on the chaos queues after the run. */
  jobs: JobRecord[];
  /** The 100 ms schedule, as stored after the run. */
  schedule: ScheduleRecord | null;
  tickEveryMs: number;
  /** The id prefix of the schedule's jobs. */
  tickJobPrefix: string;
  registrationTtlMs: number;
  leaseMs: number;
  /** Whether every writer shares one lock (SQLite): a paused worker holding it stalls the others' lease renewals. */
  sharedWriteLock: boolean;
  /** When the backend was read. */
  checkedAt: number;
  /** The group limits the run set, when the backend keeps groups. */
  groups?: GroupLimitsOfRun;
}

export interface CheckRow {
  check: string;
  value: string;
  ok: boolean;
}

export interface CheckReport {
  rows: CheckRow[];
  violations: string[];
  figures: {
    acked: number;
    runs: number;
    lost: number;
    stuck: number;
    runningPastLease: number;
    duplicates: number;
    duplicatesByReason: Record<string, number>;
    retries: number;
    recoveryMs: number[];
    ticksFired: number;
    ticksCoalesced: number;
    failedByCode: Record<string, number>;
    maxRegistrationOverstayMs: number;
  };
}

type Start = Extract<LedgerEntry, { t: 'start' }>;
type End = Extract<LedgerEntry, { t: 'end' }>;
type Fault = Extract<LedgerEntry, { t: 'fault' }>;

/** Kinds of job that may end failed, and the error codes that may end them, besides a lost lease. */
const ALLOWED_FAILURES: Partial<Record<JobKind | 'tick', string[]>> = {
  flaky: ['JOB_FAILED'],
  broadcast: ['WORKER_GONE'],
};
/** A delivery taken back from dead workers more than the recovery limit allows fails with this. */
const CRASH_CODES = ['LEASE_LOST'];

export function checkRun(input: CheckInput): CheckReport {
  const violations: string[] = [];
  const violate = (message: string) => {
    if (violations.length < 200) violations.push(message);
  };
  const { ledger, jobs } = input;
  const acked = new Map<string, Extract<LedgerEntry, { t: 'acked' }>>();
  const starts: Start[] = [];
  const ends = new Map<string, End>();
  const faults: Fault[] = [];
  const exits = new Map<number, number>();
  for (const e of ledger) {
    if (e.t === 'acked') acked.set(e.job, e);
    else if (e.t === 'start') starts.push(e);
    else if (e.t === 'end') ends.set(`${e.delivery}#${e.step}#${e.attempt}#${e.pid}`, e);
    else if (e.t === 'fault') faults.push(e);
    else if (e.t === 'exited') exits.set(e.pid, e.at);
  }
  const byId = new Map(jobs.map((j) => [j.id, j]));
  // A job stored though its enqueue was not acknowledged (the server failed before answering) has no
  // ledger entry: its name says what it is.
  const KIND_OF_NAME: Record<string, JobKind> = { 'chaos.hello': 'broadcast', 'chaos.flaky': 'flaky', 'skq.conjunction': 'conjunction', 'chaos.slow': 'slow', 'chaos.grouped': 'grouped' };
  const kindOf = (job: JobRecord): JobKind | 'tick' => (job.id.startsWith(input.tickJobPrefix) ? 'tick' : (acked.get(job.id)?.kind ?? KIND_OF_NAME[job.name] ?? 'quick'));

  // Every acknowledged job is stored and ended.
  let lost = 0;
  for (const id of acked.keys()) {
    if (!byId.has(id)) {
      lost += 1;
      violate(`lost: job ${id} was acknowledged but the backend does not have it`);
    }
  }
  let stuck = 0;
  let runningPastLease = 0;
  const failedByCode: Record<string, number> = {};
  for (const job of jobs) {
    if (!TERMINAL_STATES.has(job.state)) {
      stuck += 1;
      violate(`stuck: job ${job.id} (${kindOf(job)}) is ${job.state} after the run: ${job.deliveries.map((d) => `${d.route}${d.targetWorker ? `→${d.targetWorker}` : ''} ${d.state}`).join(', ')}`);
    }
    for (const d of job.deliveries) {
      if (d.state === 'running' && (d.leaseUntil ?? 0) < input.checkedAt) {
        runningPastLease += 1;
        violate(`running past its lease: delivery ${d.id} (lease ended ${input.checkedAt - (d.leaseUntil ?? 0)} ms before the check)`);
      }
      if (d.state === 'failed') {
        const code = d.error?.code ?? 'none';
        failedByCode[code] = (failedByCode[code] ?? 0) + 1;
        const kind = kindOf(job);
        if (!CRASH_CODES.includes(code) && !(ALLOWED_FAILURES[kind] ?? []).includes(code)) violate(`unexpected failure: ${kind} job ${job.id} failed with ${code}: ${d.error?.message ?? ''}`);
      }
    }
  }

  // Runs: every success ran; every run beyond the first of an attempt's step is a retry or explained.
  const runsByKey = new Map<string, Start[]>();
  for (const s of starts) {
    const key = `${s.delivery}#${s.step}`;
    runsByKey.set(key, [...(runsByKey.get(key) ?? []), s]);
  }
  for (const job of jobs) {
    if (job.state !== 'succeeded') continue;
    const steps = kindOf(job) === 'conjunction' ? [1, 2, 3] : [0];
    for (const d of job.deliveries) {
      if (d.state !== 'succeeded') continue;
      for (const step of steps) if (!runsByKey.has(`${d.id}#${step}`)) violate(`success without a run: delivery ${d.id} step ${step} succeeded but its handler never started`);
    }
  }
  const endOf = (s: Start) => ends.get(`${s.delivery}#${s.step}#${s.attempt}#${s.pid}`);
  const failures = new Map<string, number>();
  for (const e of ends.values()) {
    const key = `${e.delivery}#${e.attempt}`;
    if (!e.ok) failures.set(key, Math.min(failures.get(key) ?? Infinity, e.at));
  }
  const failedBefore = (delivery: string, attempt: number, at: number) => (failures.get(`${delivery}#${attempt}`) ?? Infinity) <= at;
  const pauses = pauseWindows(faults);
  let duplicates = 0;
  let retries = 0;
  const duplicatesByReason: Record<string, number> = {};
  for (const runs of runsByKey.values()) {
    for (let i = 1; i < runs.length; i += 1) {
      // By start time; the older attempt is the one that lost its lease (it may have started a later
      // part of a conjunction after the newer attempt began, if its worker was paused in between).
      const [prev, cur] = runs[i]!.attempt < runs[i - 1]!.attempt ? [runs[i]!, runs[i - 1]!] : [runs[i - 1]!, runs[i]!];
      if (cur.attempt === prev.attempt) violate(`attempt ${cur.attempt} of delivery ${cur.delivery} ran twice (pids ${prev.pid} and ${cur.pid}): the lease fence failed`);
      const prevEnd = endOf(prev);
      // A planned retry: the previous attempt failed (in any step) before this one began.
      if (failedBefore(prev.delivery, prev.attempt, Math.max(prev.at, cur.at))) {
        retries += 1;
        continue;
      }
      duplicates += 1;
      const reason =
        explain(prev, cur, faults, pauses, exits, input.sharedWriteLock, input.leaseMs) ??
        // It returned, and the next attempt came only after its lease could have run out: the outcome
        // reached the backend too late (the server slow under load). One that was still running had its
        // renewals to keep it, so that case stays unexplained.
        (prevEnd && prevEnd.at <= cur.at && cur.at - prev.at >= input.leaseMs ? 'outcome stored after its lease ended (slow server)' : 'unexplained');
      duplicatesByReason[reason] = (duplicatesByReason[reason] ?? 0) + 1;
      if (reason.startsWith('unexplained')) violate(`${reason}: delivery ${cur.delivery} step ${cur.step} ran again at ${cur.at} (attempt ${cur.attempt}, pid ${cur.pid}) after attempt ${prev.attempt} on pid ${prev.pid}${prevEnd ? ' had succeeded' : ''}`);
    }
  }

  // Recovery: from each kill or pause of a worker to the next start of each run it held.
  const recoveryMs: number[] = [];
  for (const f of faults) {
    if (f.role !== 'worker' || (f.action !== 'SIGKILL' && f.action !== 'SIGSTOP')) continue;
    for (const runs of runsByKey.values()) {
      const held = runs.find((s) => s.pid === f.pid && s.at <= f.at && !((endOf(s)?.at ?? Infinity) <= f.at));
      if (!held) continue;
      const next = runs.find((s) => s.at > f.at && s.pid !== f.pid);
      if (next) recoveryMs.push(next.at - f.at);
    }
  }

  // Registrations: none listed longer after its process died than its TTL.
  let maxOverstay = 0;
  for (const e of ledger) {
    if (e.t !== 'registrations') continue;
    for (const w of e.workers) {
      const died = exits.get(w.pid);
      if (died === undefined || e.at <= died) continue;
      maxOverstay = Math.max(maxOverstay, e.at - died);
      if (e.at - died > input.registrationTtlMs + 250) violate(`registration of worker ${w.id} (pid ${w.pid}) listed ${e.at - died} ms after its process ended, past its ${input.registrationTtlMs} ms TTL`);
    }
  }

  // The schedule: each tick fired once, on the 100 ms grid.
  const ticks = jobs
    .filter((j) => j.id.startsWith(input.tickJobPrefix))
    .map((j) => Number(j.id.slice(input.tickJobPrefix.length)))
    .sort((a, b) => a - b);
  let ticksCoalesced = 0;
  if (ticks.length) {
    const first = ticks[0]!;
    for (const t of ticks) if ((t - first) % input.tickEveryMs !== 0) violate(`tick ${t} is off the ${input.tickEveryMs} ms grid that started at ${first}`);
    ticksCoalesced = (ticks.at(-1)! - first) / input.tickEveryMs + 1 - ticks.length;
  }
  if (input.schedule && input.schedule.firedCount !== ticks.length) {
    violate(`the schedule counts ${input.schedule.firedCount} firings but ${ticks.length} tick jobs exist: a tick fired ${input.schedule.firedCount > ticks.length ? 'twice' : 'without its job'}`);
  }

  // Broadcast: one delivery per worker listening when the job was fired. The listings before and after
  // the enqueue bound that set, unless a registration lapsed or ran out around it: its worker was killed,
  // stopped or paused, or the server was, within a TTL of the enqueue (heartbeats did not land).
  const pidOf = new Map<string, number>();
  for (const e of ledger) if (e.t === 'registrations') for (const w of e.workers) pidOf.set(w.id, w.pid);
  for (const s of starts) pidOf.set(s.worker, s.pid);
  // The bounds span from the listing before (its query's clock is read when it is sent, and a server
  // that is down holds it until it is back) to the acknowledgement.
  const near = (from: number, at: number, pid: number | undefined) => {
    const exit = pid === undefined ? undefined : exits.get(pid);
    return (
      faults.some((f) => (f.role !== 'worker' || f.pid === pid) && f.at <= at + input.registrationTtlMs && (f.until ?? f.at) >= from - 2 * input.registrationTtlMs) ||
      (exit !== undefined && exit >= from - 2 * input.registrationTtlMs && exit <= at + 2 * input.registrationTtlMs)
    );
  };
  let broadcastDeliveries = 0;
  let broadcastLapses = 0;
  for (const a of acked.values()) {
    if (a.kind !== 'broadcast') continue;
    const job = byId.get(a.job);
    if (!job) continue;
    const targets = job.deliveries.map((d) => d.targetWorker ?? '');
    broadcastDeliveries += targets.length;
    if (new Set(targets).size !== targets.length) violate(`broadcast ${job.id} has two deliveries to one worker: ${targets.join(', ')}`);
    if (a.workersBefore && a.workersAfter) {
      const before = new Set(a.workersBefore);
      const after = new Set(a.workersAfter);
      const differing = [...[...before].filter((w) => after.has(w) && !targets.includes(w)), ...targets.filter((w) => !before.has(w) && !after.has(w))];
      const lapsed = differing.filter((w) => near(a.listedAt ?? a.at, a.at, pidOf.get(w)));
      broadcastLapses += lapsed.length;
      const missing = differing.filter((w) => !lapsed.includes(w) && !targets.includes(w));
      const extra = differing.filter((w) => !lapsed.includes(w) && targets.includes(w));
      if (missing.length || extra.length) violate(`broadcast ${job.id}: ${missing.length ? `no delivery for listening ${missing.join(', ')}` : ''}${extra.length ? ` a delivery for ${extra.join(', ')}, which was not listening` : ''}`);
    }
  }

  const runs = starts.length;
  const sorted = [...recoveryMs].sort((x, y) => x - y);
  const rows: CheckRow[] = [
    { check: 'acknowledged jobs', value: String(acked.size), ok: true },
    { check: 'handler runs', value: String(runs), ok: true },
    { check: 'lost (acknowledged, not stored)', value: String(lost), ok: lost === 0 },
    { check: 'stuck (not ended after the run)', value: String(stuck), ok: stuck === 0 },
    { check: 'running past its lease', value: String(runningPastLease), ok: runningPastLease === 0 },
    { check: 'planned retries', value: String(retries), ok: true },
    {
      check: 'duplicate runs, by cause',
      value: `${duplicates}${duplicates ? ` (${Object.entries(duplicatesByReason).map(([r, n]) => `${n} ${r}`).join(', ')})` : ''}`,
      ok: !Object.keys(duplicatesByReason).some((r) => r.startsWith('unexplained')),
    },
    { check: 'recovery after a kill or pause, p50 / max (ms)', value: sorted.length ? `${percentile(sorted, 0.5)} / ${sorted.at(-1)} (${sorted.length} runs)` : 'none held', ok: true },
    { check: 'failed deliveries, by code', value: Object.entries(failedByCode).map(([c, n]) => `${n} ${c}`).join(', ') || '0', ok: !violations.some((v) => v.startsWith('unexpected failure')) },
    { check: 'schedule ticks fired (coalesced while late)', value: `${ticks.length} (${ticksCoalesced})`, ok: !violations.some((v) => v.startsWith('tick') || v.startsWith('the schedule')) },
    {
      check: 'broadcast deliveries match listeners',
      value: `${broadcastDeliveries}${broadcastLapses ? ` (${broadcastLapses} differ where a registration lapsed around the enqueue)` : ''}`,
      ok: !violations.some((v) => v.startsWith('broadcast')),
    },
    { check: 'registration kept after its process died, max (ms)', value: `${maxOverstay} (TTL ${input.registrationTtlMs})`, ok: !violations.some((v) => v.startsWith('registration')) },
    { check: 'successes that ran', value: violations.some((v) => v.startsWith('success without')) ? 'no' : 'all', ok: !violations.some((v) => v.startsWith('success without')) },
    { check: 'lease fence (no attempt ran twice)', value: violations.some((v) => v.includes('ran twice')) ? 'broken' : 'held', ok: !violations.some((v) => v.includes('ran twice')) },
    ...(input.groups ? checkGroups(ledger, jobs, input.groups, input.leaseMs, violate) : []),
  ];
  return {
    rows,
    violations,
    figures: { acked: acked.size, runs, lost, stuck, runningPastLease, duplicates, duplicatesByReason, retries, recoveryMs: sorted, ticksFired: ticks.length, ticksCoalesced, failedByCode, maxRegistrationOverstayMs: maxOverstay },
  };
}

const SEVERITY: FaultAction[] = ['SIGKILL', 'SIGSTOP', 'SIGINT', 'SIGTERM'];

const REASONS: Record<FaultAction, string> = {
  SIGKILL: 'worker SIGKILLed',
  SIGTERM: 'worker stopped by SIGTERM',
  SIGINT: 'worker stopped by SIGINT (rough)',
  SIGSTOP: 'worker paused past its lease',
  SIGCONT: 'worker paused past its lease',
  restart: 'server restarted',
  'killed-in-transaction': 'writer killed mid-transaction',
};

interface PauseWindow {
  pid: number;
  role: Fault['role'];
  from: number;
  to: number;
}

/** Each SIGSTOP with the SIGCONT that ended it (or the planned end, if none was recorded). */
function pauseWindows(faults: Fault[]): PauseWindow[] {
  const windows: PauseWindow[] = [];
  for (const f of faults) {
    if (f.action !== 'SIGSTOP') continue;
    const cont = faults.find((c) => c.action === 'SIGCONT' && c.pid === f.pid && c.at >= f.at);
    windows.push({ pid: f.pid, role: f.role, from: f.at, to: cont?.at ?? f.until ?? f.at });
  }
  return windows;
}

/**
 * Why a run was repeated: a fault to its worker or its server while it held the job, or nothing. A
 * worker holds a job from its claim, which precedes the start by up to a lease when it was prefetched
 * (held leased until a slot freed): faults from a lease before the start count.
 */
function explain(prev: Start, cur: Start, faults: Fault[], pauses: PauseWindow[], exits: Map<number, number>, sharedWriteLock: boolean, leaseMs: number): string | null {
  const [first, last] = [Math.min(prev.at, cur.at) - leaseMs, Math.max(prev.at, cur.at)];
  const overlaps = (from: number, to: number) => from <= last && to >= first;
  // The gravest thing done to its worker while it held the job: a gentle stop that ends in a kill was the kill.
  const own = faults
    .filter((f) => f.pid === prev.pid && f.role === 'worker' && f.action !== 'SIGCONT' && f.at >= prev.at - leaseMs && f.at <= last)
    .sort((a, b) => SEVERITY.indexOf(a.action) - SEVERITY.indexOf(b.action))[0];
  if (own) return REASONS[own.action];
  if (pauses.some((p) => p.pid === prev.pid && overlaps(p.from, p.to))) return REASONS.SIGSTOP;
  if (pauses.some((p) => p.role === 'server' && overlaps(p.from, p.to))) return 'server paused past the lease';
  const server = faults.find((f) => f.role !== 'worker' && (f.action === 'restart' || f.action === 'killed-in-transaction') && overlaps(f.at, f.until ?? f.at));
  if (server) return REASONS[server.action];
  if (sharedWriteLock && pauses.some((p) => p.role === 'worker' && overlaps(p.from, p.to))) return "lease renewal blocked by a paused worker holding SQLite's write lock";
  const exited = exits.get(prev.pid);
  if (exited !== undefined && exited >= prev.at && exited <= last) return 'unexplained: its worker exited on its own';
  return null;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The report as a plain table. */
export function formatReport(title: string, report: CheckReport): string {
  const width = Math.max(...report.rows.map((r) => r.check.length));
  const lines = [title, ...report.rows.map((r) => `  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.check.padEnd(width)}  ${r.value}`)];
  if (report.violations.length) lines.push('', `${report.violations.length} violation(s):`, ...report.violations.slice(0, 40).map((v) => `  - ${v}`));
  return lines.join('\n');
}
