// What one more index costs a durable one-job write: `node --import tsx index-cost.ts` in bench/sqlite.
//
// Bare better-sqlite3 12 (the build skunq uses), a WAL file with synchronous=NORMAL and checkpoints off: a
// table of job-like rows (a random UUID, short names, numbers, a small JSON payload) with 0 to 5
// secondary indexes, and 5,000 INSERTs, each in its own transaction. It prints, per index count, the
// microseconds of the INSERT and of the COMMIT, and the WAL frames (pages) each commit appended, which
// is what the commit pays for: each B-tree a transaction touches is at least one page written. Medians
// of 3 runs. skunq's enqueue touches the table, 4 indexes and the counts table; a claim or a completion
// moves entries between indexes too (see the README's SQLite performance section).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3-12';

const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const RUNS = 3;
const COLUMNS = ['id', 'queue', 'name', 'run_at', 'seq'] as const;
/** A WAL frame: a 24-byte header and a 4 KiB page. */
const FRAME_BYTES = 24 + 4096;

function measure(indexes: number): { insertUs: number; commitUs: number; frames: number } {
  const dir = mkdtempSync(join(tmpdir(), 'skq-index-cost-'));
  const file = join(dir, 'cost.db');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE jobs (k INTEGER PRIMARY KEY, id TEXT, queue TEXT, name TEXT, run_at INTEGER, seq INTEGER, args TEXT)');
    COLUMNS.slice(0, indexes).forEach((column, i) => db.exec(`CREATE INDEX jobs_${i} ON jobs (${column})`));
    const walBefore = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 32;
    const insert = db.prepare('INSERT INTO jobs (id, queue, name, run_at, seq, args) VALUES (?, ?, ?, ?, ?, ?)');
    let insertMs = 0;
    let commitMs = 0;
    for (let n = 0; n < JOBS; n += 1) {
      const start = performance.now();
      db.exec('BEGIN IMMEDIATE');
      insert.run(randomUUID(), 'bench', 'noop', Date.now(), n, `[{"n":${n}}]`);
      const inserted = performance.now();
      db.exec('COMMIT');
      insertMs += inserted - start;
      commitMs += performance.now() - inserted;
    }
    const frames = (statSync(`${file}-wal`).size - walBefore) / FRAME_BYTES / JOBS;
    return { insertUs: (insertMs * 1000) / JOBS, commitUs: (commitMs * 1000) / JOBS, frames };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`better-sqlite3 12, WAL, synchronous=NORMAL, checkpoints off; ${JOBS} one-row transactions; medians of ${RUNS}\n`);
console.log('| secondary indexes | INSERT (µs) | COMMIT (µs) | pages written per commit | COMMIT µs per page |');
console.log('|---:|---:|---:|---:|---:|');
for (let indexes = 0; indexes <= COLUMNS.length; indexes += 1) {
  const runs = Array.from({ length: RUNS }, () => measure(indexes));
  const insertUs = median(runs.map((r) => r.insertUs));
  const commitUs = median(runs.map((r) => r.commitUs));
  const frames = median(runs.map((r) => r.frames));
  console.log(`| ${indexes} | ${insertUs.toFixed(1)} | ${commitUs.toFixed(1)} | ${frames.toFixed(2)} | ${(commitUs / frames).toFixed(1)} |`);
}
