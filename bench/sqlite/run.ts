// pnpm bench:sqlite — skunq, plainjob, liteque and Sidequest on SQLite files, same workload, same run,
// and the physical floor (floor.ts: the same durable work in bare better-sqlite3, no queue library),
// processed at claim sizes 1 and 16; it has no latency case (with no queue it has no wake-up, only a poll).
// Every step (fill, enqueue, process, latency producer and consumer) runs in a fresh process.
// The idle case is a consumer at concurrency 10 on an empty queue: the share of a core it uses while waiting.
// The c1-no-prefetch case is skunq alone at concurrency 1 with WorkerPool `prefetch: 0` (the other cases use its
// defaults, which prefetch `'auto'`): what a worker that holds no job beyond the one it runs does.
// The c10-groups case is skunq alone at concurrency 10 with its jobs in 1,000 groups, each limited to 2 at
// once (`setGroupLimits('*', { concurrency: 2 })`): what groups cost against the c10 case.
// Options (env): BENCH_REPS (default 3), BENCH_JOBS (10000), BENCH_CASES (comma list of case ids),
// BENCH_LIBRARIES (comma list; `floor` is the floor), BENCH_STEP_BUDGET_MS (60000: a slower step reports what it did by then),
// BENCH_IDLE_MS (10000: how long the idle case measures).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FLOOR_BATCHES } from './floor.js';
import { LIBRARIES, versions } from './libraries.js';
import { fmt, median, percentile, printComparison, type Samples } from '../stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 1_000);
const LATENCY_INTERVAL_MS = 5; // 200 jobs/s
const CASES = (process.env.BENCH_CASES ?? 'enqueue,bulk,c1,c10,c1-no-prefetch,c10-groups,latency,file,idle').split(',');
const GROUPS_CASE = 'process, concurrency 10, 1,000 groups of at most 2 at once (jobs/s)';
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);
const NAMES = (process.env.BENCH_LIBRARIES ?? LIBRARIES.map((l) => l.name).join(',')).split(',');
const libraries = LIBRARIES.filter((l) => NAMES.includes(l.name));
const FLOOR = 'floor';
const floorAt = (batch: number) => `${FLOOR} b=${batch}`;
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skq-bench-sqlite-'));
const exec = promisify(execFile);
const nodeArgs = ['--import', 'tsx', join(here, 'step.ts')];

console.log(`node ${process.version}; ${JOBS} jobs; ${REPS} repetitions; files in ${dir}`);
for (const [name, version] of Object.entries(versions())) console.log(`- ${name} ${version}`);
console.log('');

type Figures = { jobs?: number; rate?: number; delays?: number[]; cpuPercent?: number; durability?: { journalMode: string; synchronous: string } };
async function step(args: (string | number)[], env: Record<string, string> = {}): Promise<Figures> {
  const { stdout } = await exec(process.execPath, [...nodeArgs, ...args.map(String)], { cwd: here, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Figures;
}

let files = 0;
function freshFile(lib: string): string {
  return join(dir, `${lib}-${++files}.db`);
}

/** The file and its WAL, in bytes (a closed WAL database has none left). */
function fileBytes(file: string): number {
  return [file, `${file}-wal`].reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
}

const samples: Samples = {};
const partial = new Set<string>();
const record = (name: string, lib: string, value: number) => (((samples[name] ??= {})[lib] ??= []).push(value));
const rate = (name: string, lib: string, figures: Figures, wanted: number) => {
  record(name, lib, figures.rate!);
  if (figures.jobs! < wanted) partial.add(`${name}|${lib}`);
};

async function latency(lib: string): Promise<number[]> {
  const file = freshFile(lib);
  await step(['init', lib, file, 0]);
  const consumer = spawn(process.execPath, [...nodeArgs, 'latency', lib, file, String(LATENCY_JOBS)], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    consumer.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve();
    });
    consumer.on('exit', (code) => reject(new Error(`${lib} latency consumer exited with ${code} before it was ready`)));
  });
  const exited = new Promise<void>((resolve) => consumer.on('exit', () => resolve()));
  await ready;
  await step(['steady', lib, file, LATENCY_JOBS, LATENCY_INTERVAL_MS]);
  await exited;
  return (JSON.parse(out.trim().split('\n').pop()!) as Figures).delays!;
}

for (let rep = 0; rep < REPS; rep += 1) {
  const order = libraries.map((_, i) => libraries[(i + rep) % libraries.length]!);
  for (const { name: lib } of order) {
    if (CASES.includes('enqueue')) rate('enqueue 1 by 1 (jobs/s)', lib, await step(['enqueue', lib, freshFile(lib), JOBS]), JOBS);
    if (CASES.includes('bulk')) rate('bulk enqueue x1000 (jobs/s)', lib, await step(['bulk', lib, freshFile(lib), JOBS]), JOBS);
    for (const c of [1, 10]) {
      if (!CASES.includes(`c${c}`)) continue;
      // The floor is processed at each of its claim sizes, a figure each; a queue library sizes its own claims.
      for (const batch of lib === FLOOR ? FLOOR_BATCHES : [undefined]) {
        const label = batch === undefined ? lib : floorAt(batch);
        const file = freshFile(lib);
        await step(['init', lib, file, 0]);
        const empty = fileBytes(file);
        await step(['bulk', lib, file, JOBS]);
        if (c === 1 && CASES.includes('file')) record('file per 1,000 queued jobs (KiB)', label, (fileBytes(file) - empty) / 1024 / (JOBS / 1_000));
        const processed = await step(['process', lib, file, JOBS, c, ...(batch === undefined ? [] : [batch])]);
        rate(`process, concurrency ${c} (jobs/s)`, label, processed, JOBS);
        if (c === 1 && CASES.includes('file')) record('file per 1,000 finished jobs (KiB)', label, (fileBytes(file) - empty) / 1024 / (JOBS / 1_000));
      }
    }
    // skunq without its default prefetch (WorkerPool `prefetch: 0`), at concurrency 1, where it matters most.
    if (CASES.includes('c1-no-prefetch') && lib === 'skunq') {
      const file = freshFile(lib);
      await step(['init', lib, file, 0]);
      await step(['bulk', lib, file, JOBS]);
      rate('process, concurrency 1, skunq prefetch 0 (jobs/s)', lib, await step(['process', lib, file, JOBS, 1], { SKQ_BENCH_PREFETCH: '0' }), JOBS);
    }
    // skunq with its jobs in 1,000 groups, each limited to 2 running at once.
    if (CASES.includes('c10-groups') && lib === 'skunq') {
      const file = freshFile(lib);
      const env = { SKQ_BENCH_GROUPS: '1000' };
      await step(['init', lib, file, 0], env);
      await step(['bulk', lib, file, JOBS], env);
      rate(GROUPS_CASE, lib, await step(['process', lib, file, JOBS, 10], env), JOBS);
    }
    if (CASES.includes('latency') && lib !== FLOOR) {
      const delays = await latency(lib);
      record('latency p50 at 200 jobs/s (ms)', lib, percentile(delays, 50));
      record('latency p99 at 200 jobs/s (ms)', lib, percentile(delays, 99));
      if (delays.length < LATENCY_JOBS) partial.add(`latency p50 at 200 jobs/s (ms)|${lib}`);
    }
    if (CASES.includes('idle') && lib !== FLOOR) {
      const file = freshFile(lib);
      await step(['init', lib, file, 0]);
      record('idle worker, empty queue (% of a core)', lib, (await step(['idle', lib, file, IDLE_MS])).cpuPercent!);
    }
    process.stderr.write(`rep ${rep + 1}/${REPS} ${lib} done\n`);
  }
}

// Read back through each library's own connection, not restated from its docs.
console.log('| library | journal_mode, synchronous (read back from its own connection) |\n|---|---|');
for (const l of libraries) {
  const { durability } = await step(['durability', l.name, freshFile(l.name), 0]);
  console.log(`| ${l.name} | ${durability!.journalMode}, ${durability!.synchronous} |`);
}
const lowerIsBetter = (c: string) => c.startsWith('latency') || c.startsWith('file') || c.startsWith('idle');
const digits = (c: string) => (c.startsWith('latency') || c.startsWith('idle') ? 2 : 0);
const queues = libraries.map((l) => l.name).filter((name) => name !== FLOOR);
if (queues.length) {
  console.log('');
  printComparison(samples, queues, { lowerIsBetter, digits, partial });
  console.log('\nRatios are "times better" for skunq: throughput skunq/other; latency and file size other/skunq.');
}
if (samples[GROUPS_CASE]?.skunq?.length && samples['process, concurrency 10 (jobs/s)']?.skunq?.length) {
  const grouped = median(samples[GROUPS_CASE].skunq);
  const plain = median(samples['process, concurrency 10 (jobs/s)'].skunq);
  console.log(`\nGroups cost (skunq, concurrency 10): ${fmt(grouped, 0)} jobs/s in 1,000 groups of at most 2 at once vs ${fmt(plain, 0)} without groups: ${((plain / grouped - 1) * 100).toFixed(0)} % more time per job (target: at most 25 %).`);
}
if (libraries.some((l) => l.name === FLOOR)) printFloor();
rmSync(dir, { recursive: true, force: true });

/** The floor's rows (per claim size where it has one) and skunq's figure as a share of the floor's. */
function printFloor(): void {
  const cell = (name: string, lib: string) => {
    const values = samples[name]?.[lib];
    if (!values?.length) return '—';
    const d = digits(name);
    return `${fmt(median(values), d)} (${fmt(Math.min(...values), d)}–${fmt(Math.max(...values), d)})${partial.has(`${name}|${lib}`) ? ' †' : ''}`;
  };
  console.log('\nThe floor (floor.ts): the same durable work in bare better-sqlite3 (the version above), no queue library; b = jobs per claim.');
  console.log('| case | floor | floor median (min–max) | skunq median (min–max) | skunq / floor |\n|---|---|---:|---:|---:|');
  let marked = false;
  for (const [name, byLib] of Object.entries(samples)) {
    for (const lib of [FLOOR, ...FLOOR_BATCHES.map(floorAt)]) {
      if (!byLib[lib]?.length) continue;
      const floorMedian = median(byLib[lib]);
      const skunq = byLib.skunq?.length ? median(byLib.skunq) : undefined;
      const share = skunq === undefined ? '—' : `${(lowerIsBetter(name) ? floorMedian / skunq : skunq / floorMedian).toFixed(2)}x`;
      marked ||= partial.has(`${name}|${lib}`) || partial.has(`${name}|skunq`);
      console.log(`| ${name} | ${lib} | ${cell(name, lib)} | ${cell(name, 'skunq')} | ${share} |`);
    }
  }
  console.log('\nskunq / floor is the share of the floor skunq reaches (1.00x = at the floor): throughput skunq/floor, file size floor/skunq.');
  if (marked && !queues.length) console.log('† the step hit its time budget (BENCH_STEP_BUDGET_MS) before all jobs were done; the figure is the rate of what it did.');
}
