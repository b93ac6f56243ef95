// The jobs of a chaos run. `skunq work -f internal/chaos/src/chaos-jobs.ts` loads this module; the
// producer imports it to fire them. Every handler writes a `start` line to the ledger before its first
// await, and an `end` line when it returns or throws, so the checker can count runs per attempt.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { SkunkQueue, currentJob } from '@skq/core';
import { LedgerWriter } from './ledger.js';
import { registerChaosBackends } from './fdb-remote-simulator.js';

/** The direct queue: one delivery per job, to any worker. */
export const CHAOS_QUEUE = 'chaos';
/** The broadcast queue: one delivery per worker listening when the job is fired. */
export const FANOUT_QUEUE = 'chaos-fanout';
/** The groups of a chaos run: each at most GROUP_CONCURRENCY running (the default limits), 'g1' the busiest. */
export const CHAOS_GROUPS = ['g1', 'g2', 'g3', 'g4'] as const;
export const GROUP_CONCURRENCY = 2;
/** A group with a rate of its own (and no concurrency limit). */
export const RATED_GROUP = 'rated';
export const GROUP_RATE = { max: 5, perMs: 1_000 };

/** The schedule ticking every 100 ms on the direct queue. */
export const TICK_SCHEDULE = 'tick';
export const TICK_EVERY_MS = 100;

registerChaosBackends();

const ledgerDir = process.env.SKQ_CHAOS_LEDGER;
let writer: LedgerWriter | null = null;
const ledger = () => {
  if (!ledgerDir) throw new Error('SKQ_CHAOS_LEDGER is not set: these jobs run only under `pnpm chaos`');
  return (writer ??= new LedgerWriter(ledgerDir, 'worker'));
};

/** Runs `work` between a `start` and an `end` ledger line. `step` tells a conjunction's parts apart. */
async function recorded<T>(work: (signal: AbortSignal) => Promise<T>, step = 0): Promise<T> {
  const ctx = currentJob();
  const base = { job: ctx.jobId, delivery: ctx.deliveryId, step, attempt: ctx.attempt, pid: process.pid };
  ledger().write({ t: 'start', at: Date.now(), ...base, worker: ctx.workerId, name: ctx.name, ...(ctx.group && { group: ctx.group }) });
  try {
    const result = await work(ctx.signal);
    ledger().write({ t: 'end', at: Date.now(), ...base, ok: true });
    return result;
  } catch (err) {
    ledger().write({ t: 'end', at: Date.now(), ...base, ok: false });
    throw err;
  }
}

export const queue = new SkunkQueue(CHAOS_QUEUE);
export const fanout = new SkunkQueue(FANOUT_QUEUE, { type: 'broadcast' });

const route = ['main'];

export const quick = queue.job({ name: 'chaos.quick', routes: route, args: z.tuple([z.number().int()]) }, (n) => recorded(async () => n));

/** Sleeps `ms`: long enough that kills land while it runs. */
export const slow = queue.job({ name: 'chaos.slow', routes: route, args: z.tuple([z.number().int().min(0)]) }, (ms) =>
  recorded(async (signal) => {
    await sleep(ms, undefined, { signal });
    return ms;
  }),
);

/** Fails its first `failures` attempts, then succeeds: retries with a fixed backoff. */
export const flaky = queue.job(
  {
    name: 'chaos.flaky',
    routes: route,
    args: z.tuple([z.number().int().min(0)]),
    retry: { attempts: 4, backoff: { type: 'fixed', delayMs: 100, maxDelayMs: 100, jitter: 0 } },
  },
  (failures) =>
    recorded(async () => {
      const { attempt } = currentJob();
      if (attempt <= failures) throw new Error(`planned failure of attempt ${attempt} of ${failures}`);
      return attempt;
    }),
);

/** One part of a conjunction. */
export const part = queue.job({ name: 'chaos.part', routes: route, args: z.tuple([z.number().int(), z.number().int().min(0)]) }, (i, ms) =>
  recorded(async (signal) => {
    await sleep(ms, undefined, { signal });
    return i;
  }, i),
);

/** What the 100 ms schedule fires. */
export const tick = queue.job({ name: 'chaos.tick', routes: route }, () => recorded(async () => Date.now()));

/** Delivered to every worker of the broadcast queue. */
export const hello = fanout.job({ name: 'chaos.hello', routes: ['all'], args: z.tuple([z.number().int()]) }, (n) => recorded(async () => n));

/** A job of a group: sleeps `ms` (so that a group's limit is reached), in the group its first argument names. */
export const grouped = queue.job(
  { name: 'chaos.grouped', routes: route, args: z.tuple([z.string(), z.number().int().min(0)]), group: (group: string) => group },
  (_group, ms) =>
    recorded(async (signal) => {
      await sleep(ms, undefined, { signal });
      return ms;
    }),
);

/** The limits the run sets before it starts, when the backend keeps groups. */
export async function setGroupLimits(): Promise<void> {
  await queue.setGroupLimits('*', { concurrency: GROUP_CONCURRENCY });
  await queue.setGroupLimits(RATED_GROUP, { rate: GROUP_RATE });
}
