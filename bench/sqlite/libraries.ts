// The SQLite job queues behind one interface, each used the way its documentation suggests for speed,
// each on its own database file. Every step runs in a fresh process (see step.ts).
import { readFileSync } from 'node:fs';
import PlainDatabase from 'better-sqlite3-12';
import { better, defineQueue, defineWorker } from 'plainjob';
import { buildDBClient, Runner, SqliteQueue } from 'liteque';
import { Sidequest } from 'sidequest';
import { SkunkQueue } from '@skq/core';
import { SqliteBackend } from '@skq/sqlite';
import { WorkerPool } from '@skq/worker';
import { counter } from '../completion-counter.js';
import { sidequestOptions } from '../sidequest-options.js';
import { BenchJob, sidequestHandler } from './sidequest-job.js';
import { floor } from './floor.js';

export type JobData = { n: number; t?: number };
export type OnJob = (data: JobData) => void;

export interface Producer {
  /** The journal mode and `synchronous` level in force, read back through the library's own connection. */
  durability(): Promise<Durability>;
  addOne(data: JobData): Promise<unknown>;
  addBulk(items: JobData[]): Promise<unknown>;
  close(): Promise<void>;
}

export interface Consumer {
  /** Resolves once `count` handlers have returned and their jobs are marked done. */
  done(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface Durability {
  journalMode: string;
  synchronous: string;
}

export interface Library {
  name: 'skunq' | 'plainjob' | 'liteque' | 'sidequest' | 'floor';
  producer(file: string): Promise<Producer>;
  /** `batch`, the jobs taken per claim, is the floor's (floor.ts); the queue libraries size their own claims. */
  consumer(file: string, concurrency: number, onJob?: OnJob, batch?: number): Promise<Consumer>;
}

/** With SKQ_BENCH_GROUPS=N (the groups case), job n belongs to group n mod N, each group limited to 2 at once. */
function benchGroups(): { group?: (data: JobData) => string } {
  const groups = Number(process.env.SKQ_BENCH_GROUPS ?? 0);
  return groups > 0 ? { group: (data: JobData) => `g${data.n % groups}` } : {};
}

const skunq: Library = {
  name: 'skunq',
  async producer(file) {
    const backend = new SqliteBackend({ path: file });
    const queue = new SkunkQueue('bench', { backend });
    const job = queue.job({ name: 'noop', routes: ['bench'], ...benchGroups() }, async (_data: JobData) => undefined);
    return {
      durability: async () => {
        const { journalMode, synchronous } = backend.durability();
        return { journalMode: journalMode.toUpperCase(), synchronous };
      },
      addOne: (data) => job.fire(data),
      addBulk: (items) => queue.pushMany(items.map((data) => job.with(data))),
      close: () => backend.close(),
    };
  },
  async consumer(file, concurrency, onJob) {
    const backend = new SqliteBackend({ path: file });
    const queue = new SkunkQueue('bench', { backend });
    const job = queue.job({ name: 'noop', routes: ['bench'], ...benchGroups() }, async (data: JobData) => {
      onJob?.(data);
    });
    if (benchGroups().group) await queue.setGroupLimits('*', { concurrency: 2 });
    // The defaults (prefetch 'auto'), unless the no-prefetch case asks for `prefetch: 0`.
    const prefetch = process.env.SKQ_BENCH_PREFETCH === '0' ? { prefetch: 0 } : {};
    const pool = new WorkerPool({ queue, routes: ['bench'], concurrency, handleSignals: false, scheduler: false, jobs: [job], ...prefetch });
    await pool.start();
    return {
      async done(count) {
        while (pool.stats().succeeded < count) await new Promise((r) => setTimeout(r, 1));
      },
      async close() {
        await pool.close();
        await backend.close();
      },
    };
  },
};

// plainjob: one `defineWorker` loop per unit of concurrency, as its README's multi-worker setup does.
const plainjob: Library = {
  name: 'plainjob',
  async producer(file) {
    const db = new PlainDatabase(file);
    const queue = defineQueue({ connection: better(db), logger: quiet });
    return {
      durability: async () => pragmas((name) => db.pragma(name, { simple: true })),
      addOne: async (data) => queue.add('noop', data),
      addBulk: async (items) => queue.addMany('noop', items),
      close: async () => queue.close(),
    };
  },
  async consumer(file, concurrency, onJob) {
    const queue = defineQueue({ connection: better(new PlainDatabase(file)), logger: quiet });
    const count = counter();
    const workers = Array.from({ length: concurrency }, () =>
      defineWorker(
        'noop',
        async (job) => {
          onJob?.(JSON.parse(job.data) as JobData);
        },
        { queue, logger: quiet, pollIntervall: 1000, onCompleted: () => count.bump() },
      ),
    );
    for (const worker of workers) void worker.start();
    return {
      done: (n) => count.done(n),
      async close() {
        await Promise.all(workers.map((w) => w.stop()));
        queue.close();
      },
    };
  },
};

const liteque: Library = {
  name: 'liteque',
  async producer(file) {
    const db = buildDBClient(file, { runMigrations: true });
    const queue = new SqliteQueue<JobData>('bench', db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false });
    return {
      durability: async () => pragmas((name) => litequeClient(db).pragma(name, { simple: true })),
      addOne: (data) => queue.enqueue(data),
      // liteque has no bulk call: its docs enqueue one job at a time.
      addBulk: async (items) => {
        for (const data of items) await queue.enqueue(data);
      },
      close: async () => closeLiteque(db),
    };
  },
  async consumer(file, concurrency, onJob) {
    const db = buildDBClient(file, { runMigrations: true });
    const queue = new SqliteQueue<JobData>('bench', db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false });
    const count = counter();
    const runner = new Runner<JobData>(
      queue,
      {
        run: async (job) => {
          onJob?.(job.data);
        },
        onComplete: async () => count.bump(),
      },
      { concurrency, pollIntervalMs: 100, timeoutSecs: 60 },
    );
    const running = runner.run();
    return {
      done: (n) => count.done(n),
      async close() {
        runner.stop();
        await running;
        closeLiteque(db);
      },
    };
  },
};

// Sidequest in one process (`fork: false`, `runner: 'inline'`), which its docs suggest for SQLite; the
// dashboard is off. Its SQLite backend leaves SQLite's defaults: rollback journal, synchronous=FULL.
const sidequest: Library = {
  name: 'sidequest',
  async producer(file) {
    await Sidequest.configure(sidequestOptions('@sidequest/sqlite-backend', file, 1));
    return {
      durability: async () => {
        // Sidequest's SQLite backend runs knex over one better-sqlite3 connection; ask through it.
        const { knex } = await sidequestBackend();
        const read = async (name: string) => Object.values((await knex.raw(`PRAGMA ${name}`))[0] ?? {})[0];
        return pragmasOf(await read('journal_mode'), await read('synchronous'));
      },
      addOne: (data) => Sidequest.build(BenchJob).queue('bench').enqueue(data),
      addBulk: async (items) => {
        for (const data of items) await Sidequest.build(BenchJob).queue('bench').enqueue(data);
      },
      close: async () => {
        await Sidequest.stop();
      },
    };
  },
  async consumer(file, concurrency, onJob) {
    const count = counter();
    sidequestHandler.onJob = (data) => {
      onJob?.(data);
      count.bump();
    };
    await Sidequest.start(sidequestOptions('@sidequest/sqlite-backend', file, concurrency));
    return {
      done: (n) => count.done(n),
      async close() {
        await Sidequest.stop();
      },
    };
  },
};

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** The queue libraries, then the floor: the same work in bare better-sqlite3, no queue library (floor.ts). */
export const LIBRARIES: Library[] = [skunq, plainjob, liteque, sidequest, floor];

/** The installed versions, printed with the figures. */
export function versions(): Record<string, string> {
  const version = (name: string) => (JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  return {
    plainjob: version('plainjob'),
    liteque: `${version('liteque')} on better-sqlite3 ${version('better-sqlite3')}`,
    sidequest: `${version('sidequest')} with @sidequest/sqlite-backend ${version('@sidequest/sqlite-backend')}`,
    'better-sqlite3 (skunq, plainjob, floor)': version('better-sqlite3-12'),
  };
}

/** liteque's drizzle 0.33 client keeps its better-sqlite3 handle on `session.client`. */
function litequeClient(db: ReturnType<typeof buildDBClient>): InstanceType<typeof PlainDatabase> {
  return (db as unknown as { session: { client: InstanceType<typeof PlainDatabase> } }).session.client;
}

function closeLiteque(db: ReturnType<typeof buildDBClient>): void {
  litequeClient(db).close();
}

type Knex = { raw(sql: string): Promise<Record<string, unknown>[]> };
/** Sidequest keeps its engine out of the public typings, and wraps its backend in one made on first use. */
async function sidequestBackend(): Promise<{ knex: Knex }> {
  const lazy = (Sidequest as unknown as { engine: { getBackend(): { init(): Promise<void>; backend: { knex: Knex } } } }).engine.getBackend();
  await lazy.init();
  return lazy.backend;
}

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
function pragmasOf(journalMode: unknown, synchronous: unknown): Durability {
  return { journalMode: String(journalMode).toUpperCase(), synchronous: SYNCHRONOUS[Number(synchronous)] ?? String(synchronous) };
}
function pragmas(read: (name: string) => unknown): Durability {
  return pragmasOf(read('journal_mode'), read('synchronous'));
}
