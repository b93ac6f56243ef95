// `pnpm soak --backend sqlite|redis|postgres [--jobs 1000000]`: pushes jobs through one `skunq work` process with
// retention on, and samples, every 50 ms, the RSS of the worker and of this producer, the server's memory (Redis), the
// tables and indexes (PostgreSQL, TOAST included) or the database file and its WAL (SQLite). Each measure is summed up per
// phase: up to 20 % of the jobs, 20 to 60 %, 60 to 100 %. They must level off: the last phase's figure may not exceed
// the middle one's by more than a margin. Peaks, not the value at one moment: a heap between two collections, or a
// table between two VACUUMs, is a sawtooth, and one sample lands anywhere on it. SQLite's WAL is the exception, judged
// by its median: readers in the other process hold back checkpoints for a while at random, and the log grows past its
// 4 MB until one finishes (then SQLite cuts it back), so its peak says when a phase happened to catch such a spell;
// a log that never restarts (a read left open) raises the median too.
// Exits 1 if something grows.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import { parseConfig } from '@skq/core/backend';
import { startPostgres, startRedis } from '@skq/testing/servers';

const SoakOptionsSchema = z
  .object({
    backend: z.enum(['sqlite', 'redis', 'postgres']),
    jobs: z.coerce.number().int().min(1_000).default(1_000_000),
    concurrency: z.coerce.number().int().min(1).default(50),
    /** SQLite only: lifecycle events kept (its eventRetentionCount). */
    events: z.coerce.number().int().min(1).optional(),
  })
  .strict();
const USAGE = 'usage: pnpm soak --backend sqlite|redis|postgres [--jobs 1000000] [--concurrency 50] [--events N (SQLite: lifecycle events kept)]';
let options: z.output<typeof SoakOptionsSchema>;
try {
  const { values } = parseArgs({ options: { backend: { type: 'string' }, jobs: { type: 'string' }, concurrency: { type: 'string' }, events: { type: 'string' } } });
  options = parseConfig(SoakOptionsSchema, Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)), 'pnpm soak');
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}
const { backend, jobs: JOBS, concurrency: CONCURRENCY, events } = options;
const BATCH = 1_000;
/** At most this many jobs wait: the soak measures steady state, not a backlog. */
const AHEAD = 20 * BATCH;
const MB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'skq-soak-'));
const redis = backend === 'redis' ? await startRedis() : null;
const postgres = backend === 'postgres' ? await startPostgres() : null;
// SQLite keeps up to 100,000 notices by default (progress values, pauses, commands: this soak writes
// none; its other events are the job rows themselves): --events lowers that bound.
const url = redis ? redis.url : postgres ? postgres.url : `sqlite:${join(dir, 'soak.db')}${events ? `?eventRetentionCount=${events}` : ''}`;
process.env.SKQ_BACKEND = url;
const { queue, noop, SOAK_KEEP } = await import('./soak-jobs.js');
const client = redis ? new Redis(redis.url) : null;
const sql = postgres ? new pg.Client(postgres.url) : null;
await sql?.connect();

const worker = spawn(
  process.execPath,
  ['--conditions=skq-source', '--import', 'tsx', fileURLToPath(new URL('../../../apps/cli/src/main.ts', import.meta.url)), 'work', '-q', 'soak', '-r', 'main', '-c', String(CONCURRENCY), '-f', fileURLToPath(new URL('./soak-jobs.ts', import.meta.url)), '-b', url],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise<void>((resolve, reject) => {
  let out = '';
  worker.stdout!.on('data', (chunk) => {
    out += chunk;
    if (out.includes('listening')) resolve();
  });
  worker.once('exit', (code) => reject(new Error(`skunq work exited (${code}) before listening:\n${out}`)));
});

type Measure = 'workerRssMb' | 'producerRssMb' | 'storeMb' | 'walMb';
interface Sample extends Record<Measure, number> {
  label: string;
  done: number;
  jobsKept: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Redis's memory, PostgreSQL's tables, or the SQLite database file (its WAL apart, below). */
async function storeMb(): Promise<number> {
  if (client) return Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]) / MB;
  if (sql) {
    const { rows } = await sql.query<{ bytes: string }>(
      `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'skunq' AND c.relkind = 'r'`,
    );
    return Number(rows[0]!.bytes) / MB;
  }
  return fileMb(join(dir, 'soak.db'));
}

const fileMb = (file: string) => (existsSync(file) ? statSync(file).size / MB : 0);
const walMb = () => (backend === 'sqlite' ? fileMb(join(dir, 'soak.db-wal')) : 0);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function finished(): Promise<number> {
  const counts = await queue.counts();
  return Object.values(counts).reduce((sum, c) => sum + c.succeeded + c.failed, 0);
}

const samples: Sample[] = [];
let fired = 0;
let done = 0;
const started = Date.now();
// Removed jobs no longer count as finished: done is what was fired, less what is still open.
const open = async () => Object.values(await queue.counts()).reduce((sum, c) => sum + c.scheduled + c.queued + c.running, 0);
const points: [number, string][] = [
  [Math.round(JOBS * 0.2), 'to 20 %'],
  [Math.round(JOBS * 0.6), '20-60 %'],
  [JOBS, '60-100 %'],
];
const SAMPLE_EVERY_MS = 50;
for (const [target, label] of points) {
  const peak = { workerRssMb: 0, producerRssMb: 0, storeMb: 0 };
  const wal: number[] = [];
  let sampledAt = 0;
  const sample = async () => {
    sampledAt = Date.now();
    peak.workerRssMb = Math.max(peak.workerRssMb, rssMb(worker.pid!));
    peak.producerRssMb = Math.max(peak.producerRssMb, process.memoryUsage().rss / MB);
    peak.storeMb = Math.max(peak.storeMb, await storeMb());
    wal.push(walMb());
  };
  while (done < target) {
    if (Date.now() - sampledAt >= SAMPLE_EVERY_MS) await sample();
    const waiting = await open();
    done = fired - waiting;
    if (fired < target && waiting < AHEAD) {
      const size = Math.min(BATCH, target - fired);
      await queue.pushMany(Array.from({ length: size }, (_, i) => noop.with(fired + i)));
      fired += size;
    } else if (done < target) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await sample();
  samples.push({ label, done, ...peak, walMb: median(wal), jobsKept: await finished() });
  const rate = Math.round(done / ((Date.now() - started) / 1000));
  console.log(`[soak] ${label}: ${done.toLocaleString('en')} jobs done, ${rate.toLocaleString('en')} jobs/s`);
}

worker.kill('SIGTERM');
await new Promise((resolve) => worker.once('exit', resolve));
await queue.close();
client?.disconnect();
await sql?.end();
await redis?.stop();
await postgres?.stop();
rmSync(dir, { recursive: true, force: true });

// Flat: the last phase's peak within 25 % (plus a little absolute slack for allocator noise) of the middle one's.
const SLACK: Record<Measure, number> = { workerRssMb: 16, producerRssMb: 16, storeMb: 2, walMb: 2 };
const [first, middle, last] = samples as [Sample, Sample, Sample];
const measures: Measure[] = backend === 'sqlite' ? ['workerRssMb', 'producerRssMb', 'storeMb', 'walMb'] : ['workerRssMb', 'producerRssMb', 'storeMb'];
const rows = measures.map((key) => {
  const flat = last[key] <= middle[key] * 1.25 + SLACK[key];
  return { key, values: [first[key], middle[key], last[key]], flat };
});
const STORE = { redis: 'Redis used_memory (MB)', postgres: 'tables + indexes (MB)', sqlite: 'SQLite file (MB)' };
const what = { workerRssMb: 'worker RSS (MB)', producerRssMb: 'producer RSS (MB)', storeMb: STORE[backend], walMb: 'SQLite WAL, median (MB)' };
console.log(`\nsoak on ${backend}: ${JOBS.toLocaleString('en')} jobs, retention ${SOAK_KEEP} finished jobs${events ? `, ${events} events` : ''}, concurrency ${CONCURRENCY}, ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`  ${'peak of each phase'.padEnd(24)} ${points.map(([, label]) => label.padStart(8)).join(' ')}  verdict`);
for (const row of rows) console.log(`  ${what[row.key].padEnd(24)} ${row.values.map((v) => v.toFixed(1).padStart(8)).join(' ')}  ${row.flat ? 'flat' : 'GROWING'}`);
console.log(`  ${'finished jobs kept (end)'.padEnd(24)} ${[first, middle, last].map((s) => String(s.jobsKept).padStart(8)).join(' ')}`);
process.exit(rows.every((r) => r.flat) && last.jobsKept <= SOAK_KEEP * 2 ? 0 : 1);
