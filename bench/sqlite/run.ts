// pnpm bench:sqlite — skunq, plainjob, liteque and Sidequest on SQLite files, same workload, same run.
// Every step (fill, enqueue, process, latency producer and consumer) runs in a fresh process.
// Options (env): BENCH_REPS (default 3), BENCH_JOBS (10000), BENCH_CASES (comma list of case ids),
// BENCH_LIBRARIES (comma list), BENCH_STEP_BUDGET_MS (60000: a slower step reports what it did by then).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LIBRARIES, versions } from './libraries.js';
import { percentile, printComparison, type Samples } from '../stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 1_000);
const LATENCY_INTERVAL_MS = 5; // 200 jobs/s
const CASES = (process.env.BENCH_CASES ?? 'enqueue,bulk,c1,c10,latency,file').split(',');
const NAMES = (process.env.BENCH_LIBRARIES ?? LIBRARIES.map((l) => l.name).join(',')).split(',');
const libraries = LIBRARIES.filter((l) => NAMES.includes(l.name));
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skq-bench-sqlite-'));
const exec = promisify(execFile);
const nodeArgs = ['--conditions=skq-source', '--import', 'tsx', join(here, 'step.ts')];

console.log(`node ${process.version}; ${JOBS} jobs; ${REPS} repetitions; files in ${dir}`);
for (const [name, version] of Object.entries(versions())) console.log(`- ${name} ${version}`);
console.log('');

type Figures = { jobs?: number; rate?: number; delays?: number[]; durability?: { journalMode: string; synchronous: string } };
async function step(args: (string | number)[]): Promise<Figures> {
  const { stdout } = await exec(process.execPath, [...nodeArgs, ...args.map(String)], { cwd: here, maxBuffer: 64 * 1024 * 1024 });
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
      const file = freshFile(lib);
      await step(['init', lib, file, 0]);
      const empty = fileBytes(file);
      await step(['bulk', lib, file, JOBS]);
      const processed = await step(['process', lib, file, JOBS, c]);
      rate(`process, concurrency ${c} (jobs/s)`, lib, processed, JOBS);
      if (c === 1 && CASES.includes('file')) record('file per 1,000 finished jobs (KiB)', lib, (fileBytes(file) - empty) / 1024 / (JOBS / 1_000));
    }
    if (CASES.includes('latency')) {
      const delays = await latency(lib);
      record('latency p50 at 200 jobs/s (ms)', lib, percentile(delays, 50));
      record('latency p99 at 200 jobs/s (ms)', lib, percentile(delays, 99));
      if (delays.length < LATENCY_JOBS) partial.add(`latency p50 at 200 jobs/s (ms)|${lib}`);
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
console.log('');
printComparison(samples, libraries.map((l) => l.name), {
  lowerIsBetter: (c) => c.startsWith('latency') || c.startsWith('file'),
  digits: (c) => (c.startsWith('latency') ? 2 : 0),
  partial,
});
console.log('\nRatios are "times better" for skunq: throughput skunq/other; latency and file size other/skunq.');
rmSync(dir, { recursive: true, force: true });
