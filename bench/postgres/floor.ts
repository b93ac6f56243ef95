// pnpm --filter @skq/bench-postgres floor — what the bare driver (node-postgres, no queue library) reaches
// processing jobs on this machine: the floor under `pnpm bench:postgres`'s processing cases. A table of the
// fewest columns a job queue needs (id, name, state, data, output, two times) and one partial index of queued
// rows; 10,000 rows inserted; then 2 connections each loop: claim a batch (one UPDATE … FOR UPDATE SKIP LOCKED …
// RETURNING), complete it (one UPDATE from an array), each its own durable commit, as skunq's worker does.
// No handler, no events, no retention. Prints jobs/s (median of 3, min–max) and the server's CPU time per job.
// Options (env): FLOOR_JOBS (10000), FLOOR_BATCHES (comma list, 33,100: 33 is what skunq's worker claims at a
// time at concurrency 1), FLOOR_CONNECTIONS (2).
import pg from 'pg';
import { missingPostgres, startPostgres } from '@skq/testing/servers';
import { fmt, median } from '../stats.js';
import { serverCpuMs } from './server-cpu.js';

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
  console.log('| the bare driver: claim a batch, complete it, each one durable statement | jobs/s | server CPU per job (µs) |\n|---|---:|---:|');
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
              SELECT id FROM jobs WHERE name = $1 AND state = 0 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, data`,
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
} finally {
  await admin.end();
  await server.stop();
}
