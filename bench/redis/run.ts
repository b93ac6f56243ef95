// pnpm bench:redis — skunq, BullMQ and bee-queue on one Redis server, same workload, same run.
// Libraries alternate within each repetition; the table shows medians, min/max and skunq's ratios, then
// issue 24's targets: skunq before the lean layout, now, and whether each target holds.
// Options (env): BENCH_REPS (default 3), BENCH_JOBS (20000), BENCH_CASES (comma list of case ids: enqueue,
// bulk, c1, c10, c100 (finished jobs removed), c1-kept, c10-kept, c100-kept (kept with their results), latency,
// memory, c10-groups (skunq alone: concurrency 10 with its jobs in 1,000 groups of at most 2 running at once)),
// BENCH_LIBRARIES (comma list: skunq,bullmq,bee-queue), BENCH_GROUPS_PAIRS (12: the groups case and c10 run
// as this many pairs in all, the repetitions' and more, for the groups cost).
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { missingServer, startRedis } from '@skq/testing/servers';
import { LIBRARIES, type Library } from './libraries.js';
import { fmt, median, percentile, printComparison, type Samples } from '../stats.js';
import { sharedClockMs } from '../steady-pace.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const LATENCY_JOBS = 2_000;
const CASES = (process.env.BENCH_CASES ?? 'enqueue,bulk,c1,c10,c100,c1-kept,c10-kept,c100-kept,latency,memory,c10-groups').split(',');
const NAMES = (process.env.BENCH_LIBRARIES ?? LIBRARIES.map((l) => l.name).join(',')).split(',');
const libraries = LIBRARIES.filter((l) => NAMES.includes(l.name));
const GROUPS_CASE = 'process, concurrency 10, 1,000 groups of at most 2 at once (jobs/s)';
const PLAIN_CASE = 'process, concurrency 10 (jobs/s)';
const GROUPS_PAIRS = Number(process.env.BENCH_GROUPS_PAIRS ?? 12);
const run = promisify(execFile);

const skipped = missingServer('redis-server', 'run ./scripts/setup-test-servers.sh');
if (skipped) {
  console.error(`bench:redis needs ${skipped}`);
  process.exit(1);
}
const server = await startRedis();
const admin = new Redis(server.port, '127.0.0.1');
const version = (await admin.info('server')).match(/redis_version:(\S+)/)?.[1];
console.log(`Redis ${version} on 127.0.0.1:${server.port}; node ${process.version}; ${JOBS} jobs; ${REPS} repetitions\n`);

const samples: Samples = {};
const record = (name: string, lib: string, value: number) => (((samples[name] ??= {})[lib] ??= []).push(value));
let seq = 0;
const fresh = async () => {
  await admin.flushall();
  return `bench${++seq}`;
};

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function enqueueOne(lib: Library): Promise<number> {
  const producer = await lib.producer(server.port, await fresh());
  const ms = await timeIt(async () => {
    for (let n = 0; n < JOBS; n += 1) await producer.addOne({ n });
  });
  await producer.close();
  return (JOBS / ms) * 1000;
}

async function fill(lib: Library, queue: string, keep = false, groups?: number): Promise<number> {
  const producer = await lib.producer(server.port, queue, keep, groups);
  const ms = await timeIt(async () => {
    for (let n = 0; n < JOBS; n += 1_000) await producer.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ n: n + i })));
  });
  await producer.close();
  return (JOBS / ms) * 1000;
}

async function bulk(lib: Library): Promise<number> {
  return fill(lib, await fresh());
}

/** `keep`: finished jobs are kept with their results, instead of removed as they finish. `groups`: see Library. */
async function processing(lib: Library, concurrency: number, keep = false, groups?: number): Promise<number> {
  const queue = await fresh();
  await fill(lib, queue, keep, groups);
  let consumer: Awaited<ReturnType<Library['consumer']>> | undefined;
  const ms = await timeIt(async () => {
    consumer = await lib.consumer(server.port, queue, concurrency, undefined, keep, groups);
    await consumer.done(JOBS);
  });
  await consumer!.close();
  return (JOBS / ms) * 1000;
}

async function latency(lib: Library): Promise<number[]> {
  const queue = await fresh();
  const delays: number[] = [];
  const consumer = await lib.consumer(server.port, queue, 10, (data) => {
    if (data.t !== undefined) delays.push(sharedClockMs() - data.t);
  });
  await new Promise((resolve) => setTimeout(resolve, 200)); // idle: the worker is waiting for work
  const producer = fileURLToPath(new URL('./producer.ts', import.meta.url));
  await run(process.execPath, ['--import', 'tsx', producer, lib.name, String(server.port), queue, String(LATENCY_JOBS), '2'], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  await consumer.done(LATENCY_JOBS);
  await consumer.close();
  return delays;
}

/** Bytes per job while queued, and per finished job kept with its result ({ ok: true, n }). */
async function memory(lib: Library): Promise<{ queued: number; kept: number }> {
  const queue = await fresh();
  const before = await usedMemory();
  const producer = await lib.producer(server.port, queue, true);
  for (let n = 0; n < JOBS; n += 1_000) await producer.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ n: n + i })));
  await producer.close();
  const queued = (await usedMemory()) - before;
  const consumer = await lib.consumer(server.port, queue, 100, undefined, true);
  await consumer.done(JOBS);
  await consumer.close();
  const kept = (await usedMemory()) - before;
  return { queued: queued / JOBS, kept: kept / JOBS };
}

async function usedMemory(): Promise<number> {
  await admin.call('MEMORY', 'PURGE').catch(() => undefined);
  return Number((await admin.info('memory')).match(/used_memory:(\d+)/)![1]);
}

for (let rep = 0; rep < REPS; rep += 1) {
  const order = libraries.map((_, i) => libraries[(i + rep) % libraries.length]!);
  for (const lib of order) {
    if (CASES.includes('enqueue')) record('enqueue 1 by 1 (jobs/s)', lib.name, await enqueueOne(lib));
    if (CASES.includes('bulk')) record('bulk enqueue x1000 (jobs/s)', lib.name, await bulk(lib));
    // The groups case runs next to c10, its reference, before it in every other repetition: two runs in one
    // process do not measure alike by their order (in runs of 16 repetitions the groups case cost 5–10 points
    // more when it ran first).
    const groupsCase = CASES.includes('c10-groups') && lib.name === 'skunq';
    const groups = async () => record(GROUPS_CASE, lib.name, await processing(lib, 10, false, 1_000));
    for (const c of [1, 10, 100]) {
      if (c === 10 && groupsCase && rep % 2 === 1) await groups();
      if (CASES.includes(`c${c}`)) record(`process, concurrency ${c} (jobs/s)`, lib.name, await processing(lib, c));
      if (c === 10 && groupsCase && rep % 2 === 0) await groups();
    }
    for (const c of [1, 10, 100]) if (CASES.includes(`c${c}-kept`)) record(`process, concurrency ${c}, results kept (jobs/s)`, lib.name, await processing(lib, c, true));
    if (CASES.includes('latency')) {
      const delays = await latency(lib);
      record('latency p50 (ms)', lib.name, percentile(delays, 50));
      record('latency p95 (ms)', lib.name, percentile(delays, 95));
      record('latency p99 (ms)', lib.name, percentile(delays, 99));
    }
    if (CASES.includes('memory') && rep === 0) {
      const bytes = await memory(lib);
      record('memory per queued job (bytes)', lib.name, bytes.queued);
      record('memory per kept result (bytes)', lib.name, bytes.kept);
    }
    process.stderr.write(`rep ${rep + 1}/${REPS} ${lib.name} done\n`);
  }
}

printComparison(samples, libraries.map((l) => l.name), {
  lowerIsBetter: (c) => c.startsWith('latency') || c.startsWith('memory'),
  digits: (c) => (c.startsWith('latency') ? 2 : 0),
});
console.log('\nRatios are "times better" for skunq: throughput skunq/other; latency and memory other/skunq.');

/**
 * Issue 24's targets, with skunq's figures from the issue's own run (layout 1, before the lean layout):
 * `peer` is a multiple of the best peer's median to reach (at least for throughput, at most for latency),
 * `bound` a fixed bound (at most).
 */
const TARGETS: { case: string; before: number | null; peer?: number; bound?: number }[] = [
  { case: 'enqueue 1 by 1 (jobs/s)', before: 5_862, peer: 1 },
  { case: 'bulk enqueue x1000 (jobs/s)', before: 28_474, peer: 1 },
  { case: 'process, concurrency 1 (jobs/s)', before: 4_367, peer: 1 },
  { case: 'process, concurrency 10 (jobs/s)', before: 14_553, peer: 1 },
  { case: 'process, concurrency 100 (jobs/s)', before: 16_784, peer: 1.5 },
  { case: 'process, concurrency 1, results kept (jobs/s)', before: null, peer: 1 },
  { case: 'process, concurrency 10, results kept (jobs/s)', before: null, peer: 1 },
  { case: 'process, concurrency 100, results kept (jobs/s)', before: 22_065, peer: 1.5 },
  { case: 'latency p50 (ms)', before: 0.89, peer: 1 },
  { case: 'latency p99 (ms)', before: 7.46, peer: 1 },
  { case: 'memory per queued job (bytes)', before: 669, bound: 215 },
  { case: 'memory per kept result (bytes)', before: 749, bound: 300 },
];
console.log('\n| case | skunq before (issue 24) | skunq now | target | holds |\n|---|---:|---:|---|---|');
for (const target of TARGETS) {
  const own = samples[target.case]?.skunq;
  if (!own?.length) continue;
  const lower = target.case.startsWith('latency') || target.case.startsWith('memory');
  const digits = target.case.startsWith('latency') ? 2 : 0;
  const now = median(own);
  const peers = libraries.filter((l) => l.name !== 'skunq').map((l) => median(samples[target.case]?.[l.name] ?? [NaN]));
  const best = lower ? Math.min(...peers) : Math.max(...peers);
  const goal = target.bound ?? (lower ? best / target.peer! : best * target.peer!);
  const holds = lower ? now <= goal : now >= goal;
  const what = target.bound !== undefined ? `≤ ${fmt(goal)}` : `${lower ? '≤' : '≥'} ${target.peer === 1 ? '' : `${target.peer}x `}best peer = ${fmt(goal, digits)}`;
  console.log(`| ${target.case} | ${target.before === null ? '—' : fmt(target.before, digits)} | ${fmt(now, digits)} | ${what} | ${holds ? 'yes' : '**no**'} |`);
}

// The groups cost compares two runs of skunq that differ by a few µs a job, on a noisy machine: it is taken
// over pairs run back to back (the repetitions' and more), the groups case first in every other pair (two
// runs in one process do not measure alike by their order), and reported as the ratio of the medians.
const skunqLib = libraries.find((l) => l.name === 'skunq');
if (skunqLib && CASES.includes('c10') && CASES.includes('c10-groups')) {
  const pairs = (samples[PLAIN_CASE]?.skunq ?? []).map((plain, i) => ({ plain, grouped: samples[GROUPS_CASE]!.skunq![i]!, groupsFirst: i % 2 === 1 }));
  for (let i = pairs.length; i < GROUPS_PAIRS; i += 1) {
    const groupsFirst = i % 2 === 1;
    let plain: number, grouped: number;
    if (groupsFirst) {
      grouped = await processing(skunqLib, 10, false, 1_000);
      plain = await processing(skunqLib, 10);
    } else {
      plain = await processing(skunqLib, 10);
      grouped = await processing(skunqLib, 10, false, 1_000);
    }
    pairs.push({ plain, grouped, groupsFirst });
    process.stderr.write(`groups pair ${i + 1}/${GROUPS_PAIRS} done\n`);
  }
  const plainMedian = median(pairs.map((p) => p.plain));
  const groupsMedian = median(pairs.map((p) => p.grouped));
  console.log(`\nGroups cost (skunq, concurrency 10, ${pairs.length} pairs: the repetitions' and ${pairs.length - REPS} more): ${fmt(groupsMedian)} jobs/s in 1,000 groups of at most 2 at once vs ${fmt(plainMedian)} without groups: ${((plainMedian / groupsMedian - 1) * 100).toFixed(0)} % more time per job (target: at most 25 %).`);
  const cost = (p: { plain: number; grouped: number }) => (p.plain / p.grouped - 1) * 100;
  const paired = pairs.map(cost);
  console.log(`Per pair: ${fmt(median(paired), 0)} % (${fmt(Math.min(...paired), 0)}–${fmt(Math.max(...paired), 0)} %) more time per job with groups.`);
  const second = pairs.filter((p) => !p.groupsFirst).map(cost);
  const first = pairs.filter((p) => p.groupsFirst).map(cost);
  if (first.length > 0) console.log(`  groups run second: ${fmt(median(second), 0)} % (${second.map((p) => fmt(p, 0)).join(', ')}); run first: ${fmt(median(first), 0)} % (${first.map((p) => fmt(p, 0)).join(', ')}).`);
}

admin.disconnect();
await server.stop();
rmSync(server.dir, { recursive: true, force: true });
process.exit(0);
