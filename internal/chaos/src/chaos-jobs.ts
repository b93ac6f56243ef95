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
  ledger().write({ t: 'start', at: Date.now(), ...base, worker: ctx.workerId, name: ctx.name });
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
