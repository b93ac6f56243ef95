// The physical floor: the same durable work the queues do, with bare better-sqlite3 and no queue library.
//
// What it measures. The bench's own steps and clocks (step.ts) drive it like any library, on its own
// WAL file with synchronous=NORMAL (the durability skunq and plainjob run at), with the better-sqlite3
// skunq uses (12.x, the `better-sqlite3-12` alias):
// - enqueue: one INSERT of a job row (id, name, JSON payload, state, run_at, created_at) per job, in its
//   own transaction; bulk: one multi-row INSERT of the batch's 1,000 rows, one transaction (about 1.5x
//   the rate of 1,000 single-row INSERTs in one transaction).
// - process: each of `concurrency` loops claims up to `batch` due jobs with ONE statement,
//   `UPDATE … SET state = 'running', lease_until = … WHERE id = (SELECT id … WHERE state = 'queued' AND
//   run_at <= ? ORDER BY run_at, id LIMIT 1) RETURNING id, payload` (`id IN (… LIMIT 16)` at batch 16),
//   served by an index on (state, run_at); awaits the async no-op handler for each job in turn (so at
//   most `concurrency` handlers are in flight, as the queues' concurrency means); then records each
//   completion with one UPDATE (state = 'done', result, finished_at): in its own transaction at batch 1,
//   all of the batch's in one transaction at batch 16. As for the queues, the clock runs from opening
//   the consumer (connection, schema, statements) to the N-th recorded completion.
//
// Why it is the floor. A durable queue cannot do less: a job must be committed before enqueue returns,
// taken under a lease before it runs (or a crash would lose or duplicate it unseen), and its outcome
// committed after. The floor does exactly that and nothing else: an integer rowid, no job options,
// attempts, priorities, routes, events, logs or recovery, the fewest statements and transactions per
// job, statements prepared once, and claim loops that yield to the event loop only when nothing is due.
// A queue's figure over the floor's is the share of the disk and SQLite work it reaches; the rest is
// what the library spends on features and bookkeeping. (skunq commits a worker's claim and completions
// of one event-loop turn together, so it can beat the batch-1 floor, which pays two commits per job.)
import Database from 'better-sqlite3-12';
import { counter } from '../completion-counter.js';
import type { Durability, JobData, Library } from './libraries.js';

/** The claim sizes the floor is measured at. */
export const FLOOR_BATCHES = [1, 16] as const;
const LEASE_MS = 30_000;
/** How long an idle claim loop waits before it looks again (only once the queue is drained). */
const IDLE_MS = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  state       TEXT NOT NULL,
  run_at      INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  lease_until INTEGER,
  result      TEXT,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_at);`;

type Db = InstanceType<typeof Database>;
type Claimed = { id: number; payload: string };

function open(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  return db;
}

export const floor: Library = {
  name: 'floor',
  async producer(file) {
    const db = open(file);
    const row = "('noop', ?, 'queued', ?, ?)";
    const insert = db.prepare(`INSERT INTO jobs (name, payload, state, run_at, created_at) VALUES ${row}`);
    // One statement per batch length, prepared on first use (every batch but a last, shorter one is 1,000).
    const inserts = new Map<number, ReturnType<Db['prepare']>>();
    const insertMany = (length: number) => {
      let statement = inserts.get(length);
      if (!statement) inserts.set(length, (statement = db.prepare(`INSERT INTO jobs (name, payload, state, run_at, created_at) VALUES ${Array(length).fill(row).join(', ')}`)));
      return statement;
    };
    return {
      durability: async (): Promise<Durability> => ({
        journalMode: String(db.pragma('journal_mode', { simple: true })).toUpperCase(),
        synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(db.pragma('synchronous', { simple: true }))] ?? 'unknown',
      }),
      addOne: async (data) => {
        const now = Date.now();
        return insert.run(JSON.stringify(data), now, now).lastInsertRowid;
      },
      addBulk: async (items) => {
        const now = Date.now();
        return insertMany(items.length).run(items.flatMap((data) => [JSON.stringify(data), now, now])).changes;
      },
      close: async () => void db.close(),
    };
  },
  async consumer(file, concurrency, onJob, batch = 1) {
    const db = open(file);
    const due = "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= @now ORDER BY run_at, id";
    const claim =
      batch === 1
        ? db.prepare(`UPDATE jobs SET state = 'running', lease_until = @lease WHERE id = (${due} LIMIT 1) RETURNING id, payload`)
        : db.prepare(`UPDATE jobs SET state = 'running', lease_until = @lease WHERE id IN (${due} LIMIT ${batch}) RETURNING id, payload`);
    const finish = db.prepare("UPDATE jobs SET state = 'done', result = ?, finished_at = ? WHERE id = ?");
    const finishAll = db.transaction((jobs: Claimed[], results: string[], now: number) => {
      jobs.forEach((job, i) => finish.run(results[i], now, job.id));
    });
    const handler = async (data: JobData): Promise<unknown> => {
      onJob?.(data);
      return undefined;
    };
    const count = counter();
    let running = true;
    const loop = async () => {
      while (running) {
        const now = Date.now();
        // RETURNING gives no order; the handlers run in id order, as enqueued.
        const jobs = (claim.all({ now, lease: now + LEASE_MS }) as Claimed[]).sort((a, b) => a.id - b.id);
        if (jobs.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
          continue;
        }
        const results: string[] = [];
        for (const job of jobs) results.push(JSON.stringify((await handler(JSON.parse(job.payload) as JobData)) ?? null));
        if (jobs.length === 1) finish.run(results[0], Date.now(), jobs[0]!.id);
        else finishAll(jobs, results, Date.now());
        for (let i = 0; i < jobs.length; i += 1) count.bump();
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    return {
      done: (n) => count.done(n),
      async close() {
        running = false;
        await Promise.all(loops);
        db.close();
      },
    };
  },
};
