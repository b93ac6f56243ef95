// pnpm --filter @skq/bench-postgres floor — what the bare driver (node-postgres, no queue library) reaches
// processing jobs on this machine: the floor under `pnpm bench:postgres`'s processing cases. A table of the
// fewest columns a job queue needs (id, name, state, data, output, two times) and one partial index of queued
// rows; 10,000 rows inserted; then 2 connections each loop: claim a batch (one UPDATE … FOR UPDATE SKIP LOCKED …
// RETURNING), complete it (one UPDATE from an array), each its own commit, as skunq's worker does: the claim's
// without waiting for the WAL flush (synchronous_commit off for its transaction), the completion's durable.
// No handler, no events, no retention. Prints jobs/s (median of 3, min–max) and the server's CPU time per job.
// Then the floors under two more cases: bulk enqueue (1,000 rows per INSERT from an array, each its own durable
// commit), and enqueue-to-claim latency at 200 jobs/s (a producer process inserting one row and NOTIFYing in one
// statement; the consumer LISTENs and claims on each notification, as bench:postgres's latency case runs skunq).
// Options (env): FLOOR_JOBS (10000), FLOOR_BATCHES (comma list, 33,100: 33 is what skunq's worker claims at a
// time at concurrency 1), FLOOR_CONNECTIONS (2).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { missingPostgres, startPostgres } from '@skq/testing/servers';
import { fireAtSteadyPace, sharedClockMs } from '../steady-pace.js';
import { fmt, median, percentile } from '../stats.js';
import { serverCpuMs } from './server-cpu.js';

const LATENCY_JOBS = 2_000;
const LATENCY_INTERVAL_MS = 5;
const INSERT_ONE = `WITH ins AS (INSERT INTO jobs (name, data) VALUES ('q', $1) RETURNING id) SELECT pg_notify('jobs', 'q') FROM ins`;

// The latency floor's producer: a process of its own, as skunq's is in bench:postgres.
if (process.argv[2] === 'producer') {
  const client = new pg.Client(process.argv[3]);
  await client.connect();
  await fireAtSteadyPace(Number(process.argv[4]), LATENCY_INTERVAL_MS, (data) => client.query({ name: 'add', text: INSERT_ONE, values: [data] }));
  await client.end();
  process.exit(0);
}

const JOBS = Number(process.env.FLOOR_JOBS ?? 10_000);
const BATCHES = (process.env.FLOOR_BATCHES ?? '33,100').split(',').map(Number);
const CONNECTIONS = Number(process.env.FLOOR_CONNECTIONS ?? 2);
const skipped = missingPostgres();
if (skipped) {
  console.error(`floor needs ${skipped}`);
  process.exit(1);
}

const server = await startPostgres();
const admin = new pg.Client(server.url);
await admin.connect();
try {
  const postmaster = server.pid;
  await admin.query(`CREATE TABLE jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, state smallint NOT NULL DEFAULT 0,
    data jsonb, output jsonb, started_at timestamptz, completed_at timestamptz)`);
  await admin.query('CREATE INDEX jobs_queued ON jobs (name, id) WHERE state = 0');
  console.log(`PostgreSQL on 127.0.0.1:${server.port} (fsync on); node ${process.version}; ${JOBS} jobs, ${CONNECTIONS} connections\n`);
  console.log('| the bare driver: claim a batch (its commit not waiting for the WAL flush), complete it (durably), one statement each | jobs/s | server CPU per job (µs) |\n|---|---:|---:|');
  for (const batch of BATCHES) {
    const rates: number[] = [];
    const cpu: number[] = [];
    for (let run = 0; run < 3; run += 1) {
      await admin.query('TRUNCATE jobs');
      await admin.query(`INSERT INTO jobs (name, data) SELECT 'q', jsonb_build_object('i', g) FROM generate_series(1, $1::int) g`, [JOBS]);
      await admin.query('VACUUM ANALYZE jobs');
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        const client = new pg.Client(server.url);
        await client.connect();
        return client;
      }));
      const cpuBefore = serverCpuMs(postmaster);
      const start = performance.now();
      await Promise.all(clients.map(async (client) => {
        for (;;) {
          const { rows } = await client.query<{ id: string }>({
            name: 'claim',
            text: `UPDATE jobs SET state = 1, started_at = now() WHERE id IN (
              SELECT id FROM jobs WHERE name = $1 AND state = 0 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
              RETURNING id, data, (SELECT set_config('synchronous_commit', 'off', true))`,
            values: ['q', batch],
          });
          if (rows.length === 0) return;
          await client.query({ name: 'complete', text: `UPDATE jobs SET state = 2, completed_at = now(), output = 'null' WHERE id = ANY($1::bigint[])`, values: [rows.map((r) => r.id)] });
        }
      }));
      rates.push((JOBS / (performance.now() - start)) * 1000);
      cpu.push(((serverCpuMs(postmaster) - cpuBefore) * 1000) / JOBS);
      await Promise.all(clients.map((client) => client.end()));
    }
    console.log(`| batches of ${batch} | ${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}) | ${fmt(median(cpu))} |`);
  }

  const bulk: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    await admin.query('TRUNCATE jobs');
    const start = performance.now();
    for (let n = 0; n < JOBS; n += 1_000) {
      const data = Array.from({ length: 1_000 }, (_, i) => JSON.stringify({ n: n + i }));
      await admin.query({ name: 'bulk', text: `INSERT INTO jobs (name, data) SELECT 'q', d::jsonb FROM unnest($1::text[]) AS d`, values: [data] });
    }
    bulk.push((JOBS / (performance.now() - start)) * 1000);
  }
  console.log(`\n| the bare driver: bulk enqueue, 1,000 rows per INSERT from an array | jobs/s |\n|---|---:|\n| batches of 1,000 | ${fmt(median(bulk))} (${fmt(Math.min(...bulk))}–${fmt(Math.max(...bulk))}) |`);

  const p50: number[] = [];
  const p99: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    await admin.query('TRUNCATE jobs');
    const delays = await latency(server.url);
    p50.push(percentile(delays, 50));
    p99.push(percentile(delays, 99));
  }
  const range = (values: number[]) => `${fmt(median(values), 2)} (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`;
  console.log(`\n| the bare driver: enqueue-to-claim latency at 200 jobs/s | p50 (ms) | p99 (ms) |\n|---|---:|---:|\n| insert and NOTIFY; LISTEN, then claim | ${range(p50)} | ${range(p99)} |`);
} finally {
  await admin.end();
  await server.stop();
}

/**
 * Enqueue-to-claim delays (ms) of {@link LATENCY_JOBS} jobs: a producer process inserts and NOTIFYs at a steady
 * pace; here one connection LISTENs and another claims on each notification (up to 10 rows, as a worker at
 * concurrency 10 would) and completes what it claimed without waiting.
 */
async function latency(url: string): Promise<number[]> {
  const listener = new pg.Client(url);
  const worker = new pg.Client(url);
  await Promise.all([listener.connect(), worker.connect()]);
  const delays: number[] = [];
  let claiming = false;
  let again = false;
  const claim = async () => {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    do {
      again = false;
      const { rows } = await worker.query<{ id: string; data: { t: number } }>({
        name: 'claim',
        text: `UPDATE jobs SET state = 1, started_at = now() WHERE id IN (
          SELECT id FROM jobs WHERE name = 'q' AND state = 0 ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED)
          RETURNING id, data, (SELECT set_config('synchronous_commit', 'off', true))`,
      });
      const at = sharedClockMs();
      for (const row of rows) delays.push(at - row.data.t);
      if (rows.length) {
        again = true;
        void worker.query({ name: 'complete', text: `UPDATE jobs SET state = 2, completed_at = now() WHERE id = ANY($1::bigint[])`, values: [rows.map((r) => r.id)] });
      }
    } while (again);
    claiming = false;
  };
  listener.on('notification', () => void claim());
  await listener.query('LISTEN jobs');
  const producer = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'producer', url, String(LATENCY_JOBS)], { stdio: 'inherit' });
  await new Promise((resolve) => producer.once('exit', resolve));
  const deadline = Date.now() + 10_000;
  while (delays.length < LATENCY_JOBS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all([listener.end(), worker.end()]);
  if (delays.length < LATENCY_JOBS) throw new Error(`the latency floor claimed ${delays.length} of ${LATENCY_JOBS} jobs`);
  return delays;
}
