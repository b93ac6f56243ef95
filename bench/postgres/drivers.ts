// pnpm --filter @skq/bench-postgres drivers — node-postgres (`pg`, skunq's driver) against postgres.js on the
// statements skunq runs, one at a time, on one PostgreSQL 15 (fsync and synchronous_commit on): an INSERT in
// autocommit (a fire), a SELECT by key (a read), and a transaction of BEGIN, UPDATE … RETURNING and COMMIT (a
// step). Medians of 3 runs of BENCH_JOBS (5,000) each, min–max, drivers alternating.
import pg from 'pg';
import postgres from 'postgres';
import { missingPostgres, startPostgres } from '@skq/testing/servers';
import { fmt, median } from '../stats.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const skipped = missingPostgres();
if (skipped) {
  console.error(`drivers needs ${skipped}`);
  process.exit(1);
}
const server = await startPostgres();
const client = new pg.Client({ connectionString: server.url });
await client.connect();
const sql = postgres(server.url, { max: 1, onnotice: () => undefined });
await client.query('CREATE TABLE jobs (k bigserial PRIMARY KEY, id text NOT NULL, args text NOT NULL, n bigint NOT NULL)');

const CASES: Record<string, Record<'pg' | 'postgres.js', (i: number) => Promise<unknown>>> = {
  'INSERT, autocommit': {
    pg: (i) => client.query({ name: 'ins', text: 'INSERT INTO jobs (id, args, n) VALUES ($1, $2, $3)', values: [`pg-${i}`, '[{"n":1}]', i] }),
    'postgres.js': (i) => sql`INSERT INTO jobs (id, args, n) VALUES (${`js-${i}`}, ${'[{"n":1}]'}, ${i})`,
  },
  'SELECT by key': {
    pg: (i) => client.query({ name: 'sel', text: 'SELECT k, id FROM jobs WHERE k = $1', values: [i + 1] }),
    'postgres.js': (i) => sql`SELECT k, id FROM jobs WHERE k = ${i + 1}`,
  },
  'BEGIN, UPDATE … RETURNING, COMMIT': {
    pg: async (i) => {
      await client.query('BEGIN');
      await client.query({ name: 'upd', text: 'UPDATE jobs SET n = n + 1 WHERE k = $1 RETURNING id', values: [i + 1] });
      await client.query('COMMIT');
    },
    'postgres.js': (i) => sql.begin((tx) => tx`UPDATE jobs SET n = n + 1 WHERE k = ${i + 1} RETURNING id`),
  },
};

const rates: Record<string, Record<string, number[]>> = {};
for (let run = 0; run < 3; run += 1) {
  for (const [name, drivers] of Object.entries(CASES)) {
    const order = run % 2 === 0 ? (['pg', 'postgres.js'] as const) : (['postgres.js', 'pg'] as const);
    for (const driver of order) {
      const step = drivers[driver];
      for (let i = 0; i < 200; i += 1) await step(i);
      const start = performance.now();
      for (let i = 0; i < JOBS; i += 1) await step(i);
      ((rates[name] ??= {})[driver] ??= []).push((JOBS / (performance.now() - start)) * 1000);
    }
  }
}

console.log(`PostgreSQL on 127.0.0.1:${server.port} (fsync on); node ${process.version}; ${JOBS} statements a run, medians of 3\n`);
console.log('| statement (one at a time, awaited) | pg 8.23.1 (per s) | postgres.js 3.4.10 (per s) | pg / postgres.js |\n|---|---:|---:|---:|');
for (const [name, byDriver] of Object.entries(rates)) {
  const cell = (values: number[]) => `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
  console.log(`| ${name} | ${cell(byDriver.pg!)} | ${cell(byDriver['postgres.js']!)} | ${(median(byDriver.pg!) / median(byDriver['postgres.js']!)).toFixed(2)}x |`);
}
await client.end();
await sql.end();
await server.stop();
process.exit(0);
