// pnpm bench:scaling — how skunq's throughput scales on SQLite and Redis:
// - with worker processes (1, 2 and 4, each at concurrency 10) draining the same queue;
// - with queue depth: enqueue and process 10,000 jobs while 10k, 100k or 1M others wait behind them.
// Options (env): SCALING_BACKENDS (sqlite,redis), SCALING_JOBS (20000), SCALING_PROCESSES (1,2,4),
// SCALING_DEPTHS (10000,100000,1000000), SCALING_REPS (3; medians are shown with min–max).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { SkunkQueue } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
import { SqliteBackend } from '@skq/sqlite';
import { RedisBackend } from '@skq/redis';
import { missingServer, startRedis } from '@skq/testing/servers';
import { fmt, median } from '../stats.js';

const BACKENDS = (process.env.SCALING_BACKENDS ?? 'sqlite,redis').split(',');
const JOBS = Number(process.env.SCALING_JOBS ?? 20_000);
const PROCESSES = (process.env.SCALING_PROCESSES ?? '1,2,4').split(',').map(Number);
const DEPTHS = (process.env.SCALING_DEPTHS ?? '10000,100000,1000000').split(',').map(Number);
const REPS = Number(process.env.SCALING_REPS ?? 3);
const DEPTH_JOBS = 10_000;
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skq-bench-scaling-'));

console.log(`node ${process.version}; ${cpus().length} cores; ${REPS} repetitions; medians (min–max)\n`);

interface Target {
  name: string;
  /** A fresh, empty store: its URL for worker processes and a backend for this process. */
  fresh(): Promise<{ url: string; backend: StorageBackend; size(): Promise<number> }>;
  stop(): Promise<void>;
}

let files = 0;
const sqlite: Target = {
  name: 'sqlite',
  async fresh() {
    const path = join(dir, `scaling-${++files}.db`);
    return { url: `sqlite:${path}`, backend: new SqliteBackend({ path }), size: async () => statSync(path).size };
  },
  async stop() {},
};

async function redisTarget(): Promise<Target> {
  const skipped = missingServer('redis-server', 'run ./scripts/setup-test-servers.sh');
  if (skipped) throw new Error(`bench:scaling needs ${skipped}`);
  const server = await startRedis();
  const admin = new Redis(server.port, '127.0.0.1');
  const url = `redis://127.0.0.1:${server.port}`;
  return {
    name: 'redis',
    async fresh() {
      await admin.flushall();
      return { url, backend: await RedisBackend.connect(url), size: async () => Number((await admin.info('memory')).match(/used_memory:(\d+)/)![1]) };
    },
    async stop() {
      admin.disconnect();
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    },
  };
}

async function fill(queue: SkunkQueue, count: number): Promise<number> {
  const job = queue.job({ name: 'noop', routes: ['bench'] }, async (_data: { n: number }) => undefined);
  const start = performance.now();
  for (let n = 0; n < count; n += 1_000) await queue.pushMany(Array.from({ length: Math.min(1_000, count - n) }, (_, i) => job.with({ n: n + i })));
  return performance.now() - start;
}

async function startWorkers(url: string, queue: string, processes: number): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: processes }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'worker.ts'), url, queue, '10'], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
      return new Promise<ChildProcess>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
        child.on('exit', (code) => reject(new Error(`a worker process exited with ${code} before it was ready`)));
      });
    }),
  );
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((child) => new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  })));
}

/**
 * Waits until the deliveries of route 'bench' enqueued to run now are done: none queued or
 * running (their succeeded count alone may not reach their number: SQLite's default retention keeps the
 * newest 1,000; jobs scheduled an hour out are the depth cases' waiting ones). Returns the ms it took.
 */
async function drained(backend: StorageBackend, queue: string, start: number): Promise<number> {
  for (;;) {
    const bench = (await backend.countByState(queue)).bench;
    if (bench && bench.queued + bench.running === 0 && bench.succeeded > 0) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Jobs/s of `processes` worker processes draining JOBS jobs. The route is paused until all are ready. */
async function processesCase(target: Target, processes: number): Promise<number> {
  const store = await target.fresh();
  const queue = new SkunkQueue('scaling', { backend: store.backend });
  await fill(queue, JOBS);
  await queue.pause('bench');
  const children = await startWorkers(store.url, 'scaling', processes);
  const start = performance.now();
  await queue.resume('bench');
  const ms = await drained(store.backend, 'scaling', start);
  await stopWorkers(children);
  await store.backend.close();
  return (JOBS / ms) * 1000;
}

/** Enqueue and process rates of DEPTH_JOBS jobs with `depth` jobs waiting behind them (scheduled an hour out). */
async function depthCase(target: Target, depth: number): Promise<{ enqueue: number; process: number; bytes: number }> {
  const store = await target.fresh();
  const queue = new SkunkQueue('scaling', { backend: store.backend });
  const waiting = queue.job({ name: 'later', routes: ['bench'] }, async (_data: { n: number }) => undefined);
  const at = Date.now() + 3_600_000;
  for (let n = 0; n < depth; n += 1_000) {
    await queue.pushMany(Array.from({ length: Math.min(1_000, depth - n) }, (_, i) => waiting.with({ n: n + i })), { at: new Date(at) });
  }
  const before = await store.size();
  const enqueueMs = await fill(queue, DEPTH_JOBS);
  const children = await startWorkers(store.url, 'scaling', 1);
  const ms = await drained(store.backend, 'scaling', performance.now());
  await stopWorkers(children);
  const bytes = ((await store.size()) - before) / DEPTH_JOBS;
  await store.backend.close();
  return { enqueue: (DEPTH_JOBS / enqueueMs) * 1000, process: (DEPTH_JOBS / ms) * 1000, bytes };
}

const cell = (values: number[], digits = 0) => `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

for (const name of BACKENDS) {
  const target = name === 'redis' ? await redisTarget() : sqlite;
  console.log(`### ${name}: worker processes (concurrency 10 each, ${JOBS} jobs)\n`);
  console.log('| processes | jobs/s | µs per job (wall) | vs 1 process |\n|---:|---:|---:|---:|');
  let one = 0;
  for (const p of PROCESSES) {
    const rates: number[] = [];
    for (let rep = 0; rep < REPS; rep += 1) rates.push(await processesCase(target, p));
    one ||= median(rates);
    console.log(`| ${p} | ${cell(rates)} | ${fmt(1e6 / median(rates), 1)} | ${(median(rates) / one).toFixed(2)}x |`);
  }
  console.log(`\n### ${name}: queue depth (${DEPTH_JOBS} jobs enqueued in bulk and processed by 1 process at concurrency 10, with N others scheduled behind them)\n`);
  console.log('| jobs waiting | enqueue jobs/s | process jobs/s | µs per processed job | growth per job (bytes) |\n|---:|---:|---:|---:|---:|');
  for (const depth of DEPTHS) {
    const runs: { enqueue: number; process: number; bytes: number }[] = [];
    for (let rep = 0; rep < (depth >= 1_000_000 ? 1 : REPS); rep += 1) runs.push(await depthCase(target, depth));
    const processRates = runs.map((r) => r.process);
    console.log(`| ${fmt(depth)} | ${cell(runs.map((r) => r.enqueue))} | ${cell(processRates)} | ${fmt(1e6 / median(processRates), 1)} | ${fmt(median(runs.map((r) => r.bytes)))} |`);
  }
  console.log('');
  await target.stop();
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
