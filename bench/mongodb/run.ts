// pnpm bench:mongodb — skunq, Agenda 6 and Sidequest on one MongoDB wire-protocol server, same workload, same run.
// The server is mongo-java-server in memory (what these machines can run), or SKQ_MONGODB_URL when set.
// Libraries alternate within each repetition; the table shows medians, min/max and skunq's ratio.
// Options (env): BENCH_REPS (default 3), BENCH_JOBS (2000), BENCH_CASES (enqueue,c1,c10,c50,latency),
// BENCH_LIBRARIES (comma list), BENCH_STEP_BUDGET_MS (60000: a slower step reports the rate of what it did by then).
import { MongoClient } from 'mongodb';
import { missingMongoServer, startMongoServer, type MongoServerKind, type MongoTestServer } from '@skq/testing/mongo-servers';
import { LIBRARIES, type Library } from './libraries.js';
import { percentile, printComparison, type Samples } from '../stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 2_000);
const LATENCY_JOBS = Math.min(JOBS, 500);
const CASES = (process.env.BENCH_CASES ?? 'enqueue,c1,c10,c50,latency').split(',');
// BENCH_MONGO_SERVER=ferretdb runs on FerretDB v1 instead of mongo-java-server (when SKQ_MONGODB_URL is not set).
const kind: MongoServerKind = process.env.SKQ_MONGODB_URL ? 'mongodb' : process.env.BENCH_MONGO_SERVER === 'ferretdb' ? 'ferretdb' : 'mongo-java-server';
const NAMES = (process.env.BENCH_LIBRARIES ?? LIBRARIES.map((l) => l.name).join(',')).split(',');
const libraries = LIBRARIES.filter((l) => NAMES.includes(l.name) && (kind === 'mongodb' || !l.needsRealMongo));
const BUDGET_MS = Number(process.env.BENCH_STEP_BUDGET_MS ?? 60_000);
const partial = new Set<string>();

const missing = missingMongoServer(kind);
if (missing) {
  console.error(`bench:mongodb needs ${missing}`);
  process.exit(1);
}
let server: MongoTestServer = await startMongoServer(kind);
console.log(`${server.name}; node ${process.version}; ${JOBS} jobs; ${REPS} repetitions\n`);
for (const lib of LIBRARIES) {
  if (NAMES.includes(lib.name) && !libraries.includes(lib)) console.log(`${lib.name} is left out: it needs a real MongoDB (SKQ_MONGODB_URL): ${lib.needsRealMongo}.\n`);
}

const samples: Samples = {};
const record = (name: string, lib: string, value: number) => (((samples[name] ??= {})[lib] ??= []).push(value));
let seq = 0;
/**
 * A fresh database per measurement, so no run sees another's jobs. mongo-java-server keeps its
 * oplog in memory for ever, and change streams slow down as it grows: it is restarted empty
 * before every measurement, so that no library pays for the one measured before it.
 */
async function fresh(): Promise<string> {
  if (kind !== 'mongodb') {
    await server.stop();
    server = await startMongoServer(kind);
  }
  return server.url.replace(/\/(\?|$)/, `/skq_bench_${process.pid}_${++seq}$1`);
}

async function drop(url: string): Promise<void> {
  const client = await MongoClient.connect(url);
  await client.db().dropDatabase();
  await client.close();
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Enqueues up to `count` jobs one at a time, within the step budget. */
async function fill(lib: Library, url: string, count: number): Promise<{ jobs: number; rate: number }> {
  const producer = await lib.producer(url);
  let n = 0;
  const ms = await timeIt(async () => {
    const start = performance.now();
    for (; n < count && performance.now() - start < BUDGET_MS; n += 1) await producer.addOne({ n });
  });
  await producer.close();
  return { jobs: n, rate: (n / ms) * 1000 };
}

async function enqueueOne(lib: Library): Promise<number> {
  const url = await fresh();
  const { jobs, rate } = await fill(lib, url, JOBS);
  if (jobs < JOBS) partial.add(`enqueue 1 by 1 (jobs/s)|${lib.name}`);
  await drop(url);
  return rate;
}

async function processing(lib: Library, concurrency: number): Promise<number> {
  const url = await fresh();
  const { jobs } = await fill(lib, url, JOBS);
  let consumer: Awaited<ReturnType<Library['consumer']>> | undefined;
  let handled = 0;
  let finished = false;
  const ms = await timeIt(async () => {
    consumer = await lib.consumer(url, concurrency, () => void (handled += 1));
    finished = await Promise.race([consumer.done(jobs).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), BUDGET_MS).unref())]);
  });
  await consumer!.close();
  await drop(url);
  if (!finished || jobs < JOBS) partial.add(`process, concurrency ${concurrency} (jobs/s)|${lib.name}`);
  return ((finished ? jobs : handled) / ms) * 1000;
}

/** Enqueue-to-start delay of jobs fired one every 5 ms at an idle consumer. */
async function latency(lib: Library): Promise<number[]> {
  const url = await fresh();
  const delays: number[] = [];
  // The producer first: in one process, a queue's job names share one registry, and the
  // consumer's handler (which measures) must be the one that stays.
  const producer = await lib.producer(url);
  const consumer = await lib.consumer(url, 10, (data) => {
    if (data.t !== undefined) delays.push(performance.timeOrigin + performance.now() - data.t);
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // idle: the consumer is waiting for work
  for (let n = 0; n < LATENCY_JOBS; n += 1) {
    await producer.addOne({ n, t: performance.timeOrigin + performance.now() });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!(await Promise.race([consumer.done(LATENCY_JOBS).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), BUDGET_MS).unref())]))) {
    partial.add(`latency p50 (ms)|${lib.name}`);
  }
  await producer.close();
  await consumer.close();
  await drop(url);
  return delays;
}

for (let rep = 0; rep < REPS; rep += 1) {
  const order = libraries.map((_, i) => libraries[(i + rep) % libraries.length]!);
  for (const lib of order) {
    if (CASES.includes('enqueue')) record('enqueue 1 by 1 (jobs/s)', lib.name, await enqueueOne(lib));
    for (const c of [1, 10, 50]) if (CASES.includes(`c${c}`)) record(`process, concurrency ${c} (jobs/s)`, lib.name, await processing(lib, c));
    if (CASES.includes('latency')) {
      const delays = await latency(lib);
      record('latency p50 (ms)', lib.name, percentile(delays, 50));
      record('latency p99 (ms)', lib.name, percentile(delays, 99));
    }
    process.stderr.write(`rep ${rep + 1}/${REPS} ${lib.name} done\n`);
  }
}

printComparison(samples, libraries.map((l) => l.name), {
  lowerIsBetter: (c) => c.startsWith('latency'),
  digits: (c) => (c.startsWith('latency') ? 1 : 0),
  partial,
});
console.log('\nRatios are "times better" for skunq: throughput skunq/other; latency other/skunq.');
await server.stop();
process.exit(0);
