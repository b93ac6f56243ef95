// pnpm bench:postgres — skunq, pg-boss 12 and graphile-worker 0.18 on one PostgreSQL 15 server (durable: fsync and
// synchronous_commit on), same workload, same run. Every step gets a database of its own, created for it, so no
// library sees another's rows or bloat. Libraries alternate within each repetition; the table shows medians,
// min/max and skunq's ratios, then the targets (skunq against the best peer of this run).
// Consumers run in a process of their own (consumer.ts), as does the latency case's producer (producer.ts).
// Options (env): BENCH_REPS (default 3), BENCH_JOBS (10000), BENCH_CASES (comma list of case ids: enqueue, bulk,
// c1, c10, c100, tx (enqueue inside an application transaction), latency, bytes).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { missingPostgres, startPostgres } from '@skq/testing/servers';
import { LIBRARIES, type Library } from './libraries.js';
import { serverCpuMs } from './server-cpu.js';
import { fmt, median, percentile, printComparison, type Samples } from '../stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const LATENCY_JOBS = 2_000;
const LATENCY_INTERVAL_MS = 5; // 200 jobs/s
/** A step that takes longer is stuck: its child process is killed and the run fails, saying which. */
const STEP_TIMEOUT_MS = 600_000;
const CASES = (process.env.BENCH_CASES ?? 'enqueue,bulk,c1,c10,c100,tx,latency,bytes').split(',');
const BYTES_QUEUED = 'bytes per 1,000 queued jobs';
const BYTES_FINISHED = 'bytes per 1,000 finished jobs';
const here = fileURLToPath(new URL('.', import.meta.url));
const NODE_ARGS = ['--import', 'tsx'];
// graphile-worker logs a line per successful job unless this is set (its own perfTest sets it too).
const childEnv = { ...process.env, NO_LOG_SUCCESS: '1' };
const exec = promisify(execFile);

const skipped = missingPostgres();
if (skipped) {
  console.error(`bench:postgres needs ${skipped}`);
  process.exit(1);
}
const server = await startPostgres();
const children = new Set<ChildProcess>();
const admin = new pg.Client({ connectionString: server.url });
let stopping: Promise<void> | null = null;
/** Stops every child process, then the server by its PID (which removes its temp dir). */
function shutdown(): Promise<void> {
  return (stopping ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    await admin.end().catch(() => undefined);
    await server.stop();
  })());
}
process.once('SIGINT', () => void shutdown().finally(() => process.exit(130)));
// An error event nobody listens to ends the process without running the finally below.
process.once('uncaughtException', (err) => {
  console.error(err);
  void shutdown().finally(() => process.exit(1));
});

const samples: Samples = {};
const record = (name: string, lib: string, value: number) => (((samples[name] ??= {})[lib] ??= []).push(value));

let seq = 0;
let current: string | null = null;
/** A new, empty database for the next step; the previous step's is dropped, with any connection left to it. */
async function fresh(): Promise<string> {
  if (current) await admin.query(`DROP DATABASE ${current} WITH (FORCE)`);
  current = `bench${++seq}`;
  await admin.query(`CREATE DATABASE ${current}`);
  return server.url.replace(/\/postgres$/, `/${current}`);
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function enqueueOne(lib: Library): Promise<number> {
  const producer = await lib.producer(await fresh());
  const ms = await timeIt(async () => {
    for (let n = 0; n < JOBS; n += 1) await producer.addOne({ n });
  });
  await producer.close();
  return (JOBS / ms) * 1000;
}

async function fill(lib: Library, url: string, keep = false): Promise<number> {
  const producer = await lib.producer(url, keep);
  const ms = await timeIt(async () => {
    for (let n = 0; n < JOBS; n += 1_000) await producer.addBulk(Array.from({ length: Math.min(1_000, JOBS - n) }, (_, i) => ({ n: n + i })));
  });
  await producer.close();
  return (JOBS / ms) * 1000;
}

/** A consumer process: `ready` once it consumes, `finished` with its own clock once `count` jobs are completed. */
function consume(lib: Library, url: string, concurrency: number, count: number, keep = false) {
  const args = [...NODE_ARGS, 'consumer.ts', lib.name, url, String(concurrency), String(count), keep ? 'keep' : 'default'];
  const child = spawn(process.execPath, args, { cwd: here, env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let signalReady = () => {};
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  const finished = new Promise<{ ms: number; delays: number[] }>((resolve, reject) => {
    let result: { ms: number; delays: number[] } | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') signalReady();
      else if (line.startsWith('done ')) result = JSON.parse(line.slice(5)) as { ms: number; delays: number[] };
    });
    // 'close', not 'exit': the done line may still be in the pipe when the process exits.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (result && code === 0) resolve(result);
      else reject(new Error(`the ${lib.name} consumer (concurrency ${concurrency}) ended (${code ?? signal}) before ${count} completions`));
    });
  });
  return { ready: Promise.race([ready, finished.then(() => undefined)]), finished };
}

/** Jobs/s, and the server's CPU time per job (µs) meanwhile. */
async function processing(lib: Library, concurrency: number): Promise<{ rate: number; cpu: number }> {
  const url = await fresh();
  await fill(lib, url);
  const cpuBefore = serverCpuMs(server.pid);
  const { ms } = await consume(lib, url, concurrency, JOBS).finished;
  return { rate: (JOBS / ms) * 1000, cpu: ((serverCpuMs(server.pid) - cpuBefore) * 1000) / JOBS };
}

/** BEGIN; INSERT INTO an application table; enqueue on the same client; COMMIT — one job per transaction. */
async function transactional(lib: Library): Promise<number> {
  const url = await fresh();
  const producer = await lib.producer(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE orders (id bigserial PRIMARY KEY, n integer NOT NULL)');
  const ms = await timeIt(async () => {
    for (let n = 0; n < JOBS; n += 1) {
      await client.query('BEGIN');
      await client.query('INSERT INTO orders (n) VALUES ($1)', [n]);
      await producer.addInTransaction(client, { n });
      await client.query('COMMIT');
    }
  });
  const { rows } = await client.query<{ orders: number }>('SELECT count(*)::int AS orders FROM orders');
  await client.end();
  await producer.close();
  if (rows[0]!.orders !== JOBS) throw new Error(`${lib.name}: ${rows[0]!.orders} orders committed, not ${JOBS}`);
  return (JOBS / ms) * 1000;
}

/** Enqueue-to-start delays: an idle consumer at concurrency 10; a producer process fires at a steady pace. */
async function latency(lib: Library): Promise<number[]> {
  const url = await fresh();
  const consumer = consume(lib, url, 10, LATENCY_JOBS);
  await consumer.ready;
  await new Promise((resolve) => setTimeout(resolve, 200)); // idle: the worker is waiting for work
  const producing = exec(process.execPath, [...NODE_ARGS, 'producer.ts', lib.name, url, String(LATENCY_JOBS), String(LATENCY_INTERVAL_MS)], {
    cwd: here,
    env: childEnv,
    timeout: STEP_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  children.add(producing.child);
  await producing.finally(() => children.delete(producing.child));
  return (await consumer.finished).delays;
}

/**
 * Table + index (+ TOAST) bytes of the schema's tables, each VACUUMed first: dead rows become free space, and
 * empty pages at a table's end are given back.
 */
async function schemaBytes(db: pg.Client, schema: string): Promise<number> {
  const tables = `FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'r'`;
  const { rows } = await db.query<{ name: string }>(`SELECT format('%I.%I', s.nspname, c.relname) AS name ${tables}`, [schema]);
  for (const { name } of rows) await db.query(`VACUUM ${name}`);
  const { rows: sum } = await db.query<{ bytes: string }>(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes ${tables}`, [schema]);
  return Number(sum[0]!.bytes);
}

/** Bytes per 1,000 jobs above the library's empty tables: queued, then finished (kept where the library keeps them). */
async function bytes(lib: Library): Promise<{ queued: number; finished: number }> {
  const url = await fresh();
  await (await lib.producer(url, true)).close(); // installs the library's schema
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const empty = await schemaBytes(db, lib.schema);
    await fill(lib, url, true);
    const queued = await schemaBytes(db, lib.schema);
    await consume(lib, url, 100, JOBS, true).finished;
    const finished = await schemaBytes(db, lib.schema);
    return { queued: ((queued - empty) / JOBS) * 1000, finished: ((finished - empty) / JOBS) * 1000 };
  } finally {
    await db.end();
  }
}

try {
  await admin.connect();
  const settings = await admin.query<{ version: string; fsync: string; sync: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync`,
  );
  const { version, fsync, sync } = settings.rows[0]!;
  console.log(`PostgreSQL ${version} on 127.0.0.1:${server.port} (fsync ${fsync}, synchronous_commit ${sync}); node ${process.version}; ${JOBS} jobs; ${REPS} repetitions\n`);

  for (let rep = 0; rep < REPS; rep += 1) {
    const order = LIBRARIES.map((_, i) => LIBRARIES[(i + rep) % LIBRARIES.length]!);
    for (const lib of order) {
      if (CASES.includes('enqueue')) record('enqueue 1 by 1 (jobs/s)', lib.name, await enqueueOne(lib));
      if (CASES.includes('bulk')) record('bulk enqueue x1000 (jobs/s)', lib.name, await fill(lib, await fresh()));
      for (const c of [1, 10, 100]) {
        if (!CASES.includes(`c${c}`)) continue;
        const { rate, cpu } = await processing(lib, c);
        record(`process, concurrency ${c} (jobs/s)`, lib.name, rate);
        record(`server CPU per job processed, concurrency ${c} (µs)`, lib.name, cpu);
      }
      if (CASES.includes('tx')) record('transactional enqueue 1 by 1 (jobs/s)', lib.name, await transactional(lib));
      if (CASES.includes('latency')) {
        const delays = await latency(lib);
        record('latency p50 (ms)', lib.name, percentile(delays, 50));
        record('latency p95 (ms)', lib.name, percentile(delays, 95));
        record('latency p99 (ms)', lib.name, percentile(delays, 99));
      }
      // Sizes do not vary from one repetition to the next: measured once.
      if (CASES.includes('bytes') && rep === 0) {
        const sizes = await bytes(lib);
        record(BYTES_QUEUED, lib.name, sizes.queued);
        record(BYTES_FINISHED, lib.name, sizes.finished);
      }
      process.stderr.write(`rep ${rep + 1}/${REPS} ${lib.name} done\n`);
    }
  }

  printComparison(samples, LIBRARIES.map((l) => l.name), {
    lowerIsBetter: (c) => c.startsWith('latency') || c.startsWith('bytes') || c.startsWith('server CPU'),
    digits: (c) => (c.startsWith('latency') ? 2 : 0),
  });
  console.log('\nRatios are "times better" for skunq: throughput skunq/other; latency and bytes other/skunq.');
  console.log('Processing: pg-boss fetches batches of 100, so its concurrency counts batches of 100 jobs at a time.');
  if (samples[BYTES_FINISHED]) {
    console.log('Finished jobs: skunq and pg-boss keep them; graphile-worker deletes a job as it completes, so its figure is');
    console.log('what its tables still hold once the jobs are gone (the finished target compares with pg-boss alone).');
  }

  /**
   * The targets: `peer` is a multiple of the best peer's median to reach (at least for throughput, at most for
   * latency and bytes), among `peers` when given; `bound` a fixed bound (at most).
   */
  const TARGETS: { case: string; peer?: number; bound?: number; peers?: string[] }[] = [
    { case: 'enqueue 1 by 1 (jobs/s)', peer: 1 },
    { case: 'bulk enqueue x1000 (jobs/s)', peer: 1.5 },
    { case: 'process, concurrency 1 (jobs/s)', peer: 1.5 },
    { case: 'process, concurrency 10 (jobs/s)', peer: 1.5 },
    { case: 'process, concurrency 100 (jobs/s)', peer: 1.5 },
    { case: 'transactional enqueue 1 by 1 (jobs/s)', peer: 1 },
    { case: 'latency p50 (ms)', bound: 2 },
    { case: 'latency p99 (ms)', bound: 5 },
    { case: BYTES_QUEUED, peer: 1 },
    { case: BYTES_FINISHED, peer: 1, peers: ['pg-boss'] },
  ];
  console.log('\n| case | skunq now | best peer | target | holds |\n|---|---:|---:|---|---|');
  for (const target of TARGETS) {
    const own = samples[target.case]?.skunq;
    if (!own?.length) continue;
    const lower = target.case.startsWith('latency') || target.case.startsWith('bytes');
    const digits = target.case.startsWith('latency') ? 2 : 0;
    const now = median(own);
    const peers = LIBRARIES.filter((l) => l.name !== 'skunq' && (target.peers?.includes(l.name) ?? true)).map((l) => ({
      name: l.name,
      value: median(samples[target.case]?.[l.name] ?? [NaN]),
    }));
    const best = peers.reduce((a, b) => (lower ? (b.value < a.value ? b : a) : b.value > a.value ? b : a));
    const goal = target.bound ?? (lower ? best.value / target.peer! : best.value * target.peer!);
    const holds = lower ? now <= goal : now >= goal;
    const what = target.bound !== undefined ? `≤ ${fmt(goal, digits)}` : `${lower ? '≤' : '≥'} ${target.peer === 1 ? '' : `${target.peer}x `}best peer = ${fmt(goal, digits)}`;
    console.log(`| ${target.case} | ${fmt(now, digits)} | ${fmt(best.value, digits)} (${best.name}) | ${what} | ${holds ? 'yes' : '**no**'} |`);
  }
} finally {
  await shutdown();
}
process.exit(0);
