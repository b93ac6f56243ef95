// The checks of a chaos run's groups: concurrency and rate never beyond their limits, and no group
// starved while others ran. Pure functions of the ledger and the jobs the backend holds after the run.
import type { JobRecord } from '@skq/core';
import type { LedgerEntry } from './ledger.js';

/** The limits the run set: every group `concurrency` at once, except `rated`, which has `rate` instead. */
export interface GroupLimitsOfRun {
  concurrency: number;
  rated: string;
  rate: { max: number; perMs: number };
}

export interface GroupCheckRow {
  check: string;
  value: string;
  ok: boolean;
}

type Start = Extract<LedgerEntry, { t: 'start' }>;
type End = Extract<LedgerEntry, { t: 'end' }>;
type Fault = Extract<LedgerEntry, { t: 'fault' }>;

/** How many starts of other groups a group with work and room may see before it counts as starved, per group of the run. */
const STARVED_AFTER_PER_GROUP = 20;

/**
 * - Concurrency: over the runs whose completion the store accepted (the delivery succeeded with that
 *   attempt on that worker: leased from its start to its end), at no moment more runs of one group
 *   than its limit. Runs a fault cut short are left out: they only held their place longer.
 * - Rate: the start times the store gave the rated group's successful deliveries (its clock): no window
 *   of `perMs` holds more than `max`.
 * - Starvation: while a group had a job waiting (acknowledged, not yet started) and fewer runs than its
 *   limit, others' starts are counted; the count restarts when it starts one. Starts during a fault and
 *   one lease after it are not counted (a paused worker may hold a group's claimed job). A group that saw
 *   more than 20 starts per group of the run that way was starved.
 */
export function checkGroups(ledger: LedgerEntry[], jobs: JobRecord[], limits: GroupLimitsOfRun, leaseMs: number, violate: (message: string) => void): GroupCheckRow[] {
  const starts = ledger.filter((e): e is Start => e.t === 'start' && e.group !== undefined);
  const ends = new Map<string, End>();
  for (const e of ledger) if (e.t === 'end') ends.set(`${e.delivery}#${e.attempt}#${e.pid}`, e);
  const endOf = (s: Start) => ends.get(`${s.delivery}#${s.attempt}#${s.pid}`);

  // Concurrency, over the accepted runs.
  const accepted = new Map<string, { attempt: number; worker: string | null; startedAt: number | null }>();
  for (const job of jobs) for (const d of job.deliveries) if (d.state === 'succeeded') accepted.set(d.id, { attempt: d.attempts, worker: d.workerId, startedAt: d.startedAt });
  const intervals = new Map<string, [number, number][]>();
  for (const s of starts) {
    const ok = accepted.get(s.delivery);
    const end = endOf(s);
    if (!ok || ok.attempt !== s.attempt || ok.worker !== s.worker || !end) continue;
    intervals.set(s.group!, [...(intervals.get(s.group!) ?? []), [s.at, end.at]]);
  }
  const most: Record<string, number> = {};
  for (const [group, list] of intervals) {
    if (group === limits.rated) continue;
    const { most: n, at } = mostAtOnce(list);
    most[group] = n;
    if (n > limits.concurrency) violate(`group ${group}: ${n} runs at once at ${at}, beyond its limit of ${limits.concurrency}`);
  }

  // Rate, by the store's start times.
  const rated = jobs
    .filter((j) => j.group === limits.rated)
    .flatMap((j) => j.deliveries.filter((d) => d.state === 'succeeded' && d.startedAt !== null).map((d) => d.startedAt!))
    .sort((a, b) => a - b);
  const { most: busiest, from } = busiestWindow(rated, limits.rate.perMs);
  if (busiest > limits.rate.max) violate(`group ${limits.rated}: ${busiest} starts within ${limits.rate.perMs} ms from ${from}, beyond its rate of ${limits.rate.max}`);

  const starved = starvation(ledger, starts, endOf, limits, leaseMs, violate);
  return [
    {
      check: `groups: most running at once (limit ${limits.concurrency})`,
      value: Object.entries(most).sort().map(([g, n]) => `${g} ${n}`).join(', ') || 'no runs',
      ok: !Object.values(most).some((n) => n > limits.concurrency),
    },
    { check: `groups: most starts of "${limits.rated}" in ${limits.rate.perMs} ms (rate ${limits.rate.max})`, value: `${busiest} (${rated.length} starts)`, ok: busiest <= limits.rate.max },
    { check: 'groups: starved while others ran', value: starved.length ? starved.join(', ') : 'none', ok: starved.length === 0 },
  ];
}

/**
 * The most of `runs` ([start, end] each) at one moment, and the first instant it was reached. An end
 * and a start at one instant: the end first (a place freed is taken after).
 *
 * @example
 * ```ts
 * mostAtOnce([[0, 10], [5, 15], [10, 20]]); // { most: 2, at: 5 }
 * ```
 */
export function mostAtOnce(runs: [number, number][]): { most: number; at: number | null } {
  const edges = runs.flatMap(([from, to]) => [[from, 1] as const, [to, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  let at: number | null = null;
  for (const [instant, step] of edges) {
    now += step;
    if (now > most) [most, at] = [now, instant];
  }
  return { most, at };
}

/**
 * The most of `times` (sorted) within any window shorter than `perMs`, and where the first such
 * window begins.
 *
 * @example
 * ```ts
 * busiestWindow([0, 400, 900, 1_000], 1_000); // { most: 3, from: 0 }
 * ```
 */
export function busiestWindow(times: number[], perMs: number): { most: number; from: number | null } {
  let most = 0;
  let from: number | null = null;
  for (let i = 0, j = 0; i < times.length; i += 1) {
    while (j < times.length && times[j]! - times[i]! < perMs) j += 1;
    if (j - i > most) [most, from] = [j - i, times[i]!];
  }
  return { most, from };
}

/** The groups that waited with room while others started too often (see {@link checkGroups}). */
function starvation(ledger: LedgerEntry[], starts: Start[], endOf: (s: Start) => End | undefined, limits: GroupLimitsOfRun, leaseMs: number, violate: (message: string) => void): string[] {
  const faults = ledger.filter((e): e is Fault => e.t === 'fault');
  const exits = new Map<number, number>();
  for (const e of ledger) if (e.t === 'exited') exits.set(e.pid, e.at);
  const quiet = (at: number) => !faults.some((f) => at >= f.at && at <= (f.until ?? f.at) + leaseMs);
  type Event = { at: number; kind: 'acked' | 'start' | 'end'; group: string; job: string };
  const events: Event[] = [];
  const groupOf = new Map<string, string>();
  for (const e of ledger) {
    if (e.t === 'acked' && e.group !== undefined && e.group !== limits.rated) {
      events.push({ at: e.at, kind: 'acked', group: e.group, job: e.job });
      groupOf.set(e.job, e.group);
    }
  }
  for (const s of starts) {
    if (s.group === limits.rated) continue;
    events.push({ at: s.at, kind: 'start', group: s.group!, job: s.job });
    events.push({ at: endOf(s)?.at ?? exits.get(s.pid) ?? Infinity, kind: 'end', group: s.group!, job: s.job });
  }
  events.sort((a, b) => a.at - b.at);
  const groups = new Set(groupOf.values());
  const waiting = new Map<string, Set<string>>();
  const running = new Map<string, number>();
  const startedJobs = new Set<string>();
  const others = new Map<string, number>();
  const starved = new Set<string>();
  const bound = STARVED_AFTER_PER_GROUP * Math.max(1, groups.size);
  for (const e of events) {
    if (e.kind === 'acked') {
      if (!startedJobs.has(e.job)) waiting.set(e.group, (waiting.get(e.group) ?? new Set()).add(e.job));
    } else if (e.kind === 'end') {
      running.set(e.group, (running.get(e.group) ?? 1) - 1);
    } else {
      startedJobs.add(e.job);
      waiting.get(e.group)?.delete(e.job);
      running.set(e.group, (running.get(e.group) ?? 0) + 1);
      others.set(e.group, 0);
      if (!quiet(e.at)) continue;
      for (const g of groups) {
        if (g === e.group || (waiting.get(g)?.size ?? 0) === 0 || (running.get(g) ?? 0) >= limits.concurrency) continue;
        const n = (others.get(g) ?? 0) + 1;
        others.set(g, n);
        if (n > bound && !starved.has(g)) {
          starved.add(g);
          violate(`group ${g} starved: ${n} starts of other groups at up to ${e.at} while it had a job waiting and room to run it`);
        }
      }
    }
  }
  return [...starved];
}
