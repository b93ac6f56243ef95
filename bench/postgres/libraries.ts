// The three PostgreSQL job queues of `pnpm bench:postgres` behind one interface (used by run.ts, consumer.ts and
// producer.ts), each set up the way its documentation suggests for speed:
// - skunq: the PostgreSQL backend's defaults (pool of 10, LISTEN wake-ups, group commit), with `removeOnComplete:
//   true` as the README suggests for speed (a succeeded job deleted by its completion's statement, as
//   graphile-worker deletes its jobs), except where finished jobs are kept (`keep`, the bytes case);
// - pg-boss 12: LISTEN/NOTIFY on (`useListenNotify` and a `notify: true` queue), `work()` fetching batches of
//   100 and fetching again at once while batches come back full (`burstWhenBatchFull`);
// - graphile-worker 0.18: a local queue of 500 jobs, a pool of max(10, concurrency + 2), no batch delays,
//   success logging off (NO_LOG_SUCCESS, as its own perfTest does; run.ts sets it for every child process).
import pg from 'pg';
import { PgBoss, type ConstructorOptions, type Db } from 'pg-boss';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { SkunkQueue } from '@skq/core';
import { PostgresBackend } from '@skq/postgres';
import { WorkerPool } from '@skq/worker';
import { counter, succeededCounter } from '../completion-counter.js';

export type JobData = { n: number; t?: number };
export type OnJob = (data: JobData) => void;

/** Every step has a database of its own, so one queue name serves them all. */
const QUEUE = 'bench';

export interface Producer {
  addOne(data: JobData): Promise<unknown>;
  addBulk(items: JobData[]): Promise<unknown>;
  /** Enqueues on `client`, inside the application's transaction (BEGIN already sent, COMMIT the caller's). */
  addInTransaction(client: pg.ClientBase, data: JobData): Promise<unknown>;
  close(): Promise<void>;
}

export interface Consumer {
  /** Resolves once `count` jobs are completed: the library's completing statement has been answered. */
  done(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface Library {
  name: 'skunq' | 'pg-boss' | 'graphile-worker';
  /** The PostgreSQL schema that holds its tables (all of them: the bytes case sums this schema). */
  schema: string;
  /** `keep`: keep finished jobs (the bytes case) instead of the library's default retention. */
  producer(url: string, keep?: boolean): Promise<Producer>;
  consumer(url: string, concurrency: number, onJob?: OnJob, keep?: boolean): Promise<Consumer>;
}

const skunq: Library = {
  name: 'skunq',
  schema: 'skunq',
  async producer(url, keep) {
    const backend = await PostgresBackend.connect({ url, logger: false });
    const queue = new SkunkQueue(QUEUE, { backend, ...(keep && { removeOnComplete: false }) });
    const job = queue.job({ name: 'noop', routes: ['bench'] }, async (_data: JobData) => undefined);
    return {
      addOne: (data) => job.fire(data),
      addBulk: (items) => queue.pushMany(items.map((data) => job.with(data))),
      addInTransaction: (client, data) => job.fireWith({ tx: client }, data),
      close: () => backend.close(),
    };
  },
  async consumer(url, concurrency, onJob, keep) {
    const backend = await PostgresBackend.connect({ url, logger: false, ...(!keep && { removeOnComplete: true }) });
    const queue = new SkunkQueue(QUEUE, { backend, ...(keep && { removeOnComplete: false }) });
    const job = queue.job({ name: 'noop', routes: ['bench'] }, async (data: JobData) => {
      onJob?.(data);
    });
    const completed = succeededCounter();
    const pool = new WorkerPool({ queue, routes: ['bench'], concurrency, handleSignals: false, jobs: [job], onAttemptEnd: completed.onAttemptEnd });
    await pool.start();
    return {
      done: completed.done,
      async close() {
        await pool.close();
        await backend.close();
      },
    };
  },
};

async function startBoss(url: string, tracerProvider?: TracerProvider): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, useListenNotify: true, ...(tracerProvider && { openTelemetry: { tracerProvider } }) });
  boss.on('error', (err) => console.error('pg-boss:', err));
  await boss.start();
  return boss;
}

/** `keep`: completed jobs are never deleted (its default keeps them 7 days, which a run never reaches anyway). */
const bossQueue = (keep?: boolean) => ({ notify: true, ...(keep && { deleteAfterSeconds: 0 }) });

const pgBoss: Library = {
  name: 'pg-boss',
  schema: 'pgboss',
  async producer(url, keep) {
    const boss = await startBoss(url);
    await boss.createQueue(QUEUE, bossQueue(keep));
    return {
      addOne: (data) => boss.send(QUEUE, data),
      addBulk: (items) => boss.insert(QUEUE, items.map((data) => ({ data }))),
      addInTransaction: (client, data) => {
        const db: Db = { executeSql: (text, values) => client.query(text, values) };
        return boss.send(QUEUE, data, { db });
      },
      close: () => boss.stop(),
    };
  },
  async consumer(url, concurrency, onJob, keep) {
    const completed = counter();
    const boss = await startBoss(url, completionTracer(completed.bump));
    // The latency case starts its consumer on an empty database, before any producer made the queue.
    await boss.createQueue(QUEUE, bossQueue(keep));
    await boss.work<JobData>(QUEUE, { batchSize: 100, localConcurrency: concurrency, burstWhenBatchFull: true }, async (jobs) => {
      for (const job of jobs) onJob?.(job.data);
    });
    return { done: completed.done, close: () => boss.stop({ graceful: true }) };
  },
};

type TracerProvider = NonNullable<NonNullable<ConstructorOptions['openTelemetry']>['tracerProvider']>;

/**
 * pg-boss emits no event when it has completed a batch; it wraps each completing statement in an
 * OpenTelemetry `complete` span, ended once the statement is answered. This tracer counts the jobs of each
 * such span that ended without an error, and otherwise does nothing, as the default no-op tracer does.
 */
function completionTracer(bump: () => void): TracerProvider {
  const span = (jobs: number) => {
    let failed = false;
    const self = {
      spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
      setAttribute: () => self,
      setAttributes: () => self,
      addEvent: () => self,
      addLink: () => self,
      addLinks: () => self,
      updateName: () => self,
      isRecording: () => false,
      setStatus: (status: { code: number }) => {
        failed ||= status.code === 2;
        return self;
      },
      recordException: () => {
        failed = true;
      },
      end: () => {
        if (!failed) for (let i = 0; i < jobs; i += 1) bump();
      },
    };
    return self;
  };
  const tracer = {
    startSpan(_name: string, options?: { attributes?: Record<string, unknown> }) {
      const attributes = options?.attributes ?? {};
      const completes = attributes['messaging.operation.name'] === 'complete';
      return span(completes ? Number(attributes['messaging.batch.message_count'] ?? 1) : 0);
    },
  };
  return { getTracer: () => tracer } as unknown as TracerProvider;
}

/** Errors and warnings only: its per-job info lines would cost more than the no-op jobs themselves. */
const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${message}`);
});

const graphileWorker: Library = {
  name: 'graphile-worker',
  schema: 'graphile_worker',
  async producer(url) {
    // Its own pool, release() would end without waiting: a connection still closing then meets the next step.
    const pgPool = graphilePool(url, 10);
    const utils = await makeWorkerUtils({ pgPool, logger: quietLogger });
    await utils.migrate();
    return {
      addOne: (data) => utils.addJob('noop', data),
      addBulk: (items) => utils.addJobs(items.map((payload) => ({ identifier: 'noop', payload }))),
      addInTransaction: (client, data) => client.query('SELECT graphile_worker.add_job($1, $2::json)', ['noop', JSON.stringify(data)]),
      close: async () => {
        await utils.release();
        await pgPool.end();
      },
    };
  },
  async consumer(url, concurrency, onJob) {
    const completed = counter();
    const pgPool = graphilePool(url, Math.max(10, concurrency + 2));
    // 0.18 emits job:success and job:complete right after it sends the DELETE that completes a job, without
    // waiting for its answer (worker.js); the count is taken when the DELETE is answered instead.
    pgPool.on('connect', (client) => countCompletions(client, completed.bump));
    const runner = await run({
      pgPool,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      taskList: {
        noop: async (payload) => {
          onJob?.(payload as JobData);
        },
      },
      preset: { worker: { localQueue: { size: 500 } } },
    });
    return {
      done: completed.done,
      async close() {
        await runner.stop();
        await pgPool.end();
      },
    };
  },
};

/** A pool with the error handlers graphile-worker asks of a pool it is given (it warns without them). */
function graphilePool(url: string, max: number): pg.Pool {
  const pgPool = new pg.Pool({ connectionString: url, max });
  const report = (err: Error) => console.error('graphile-worker pool:', err.message);
  pgPool.on('error', report);
  pgPool.on('connect', (client) => client.on('error', report));
  return pgPool;
}

/** Counts the rows deleted by graphile-worker's completing statements (`complete_job/…`, `complete_jobs/…`) on `client`. */
function countCompletions(client: pg.PoolClient, bump: () => void): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    const name = (args[0] as { name?: unknown } | null | undefined)?.name;
    if (typeof name === 'string' && /^complete_jobs?\//.test(name) && result instanceof Promise) {
      result.then(
        (answer: pg.QueryResult) => {
          for (let i = 0; i < (answer.rowCount ?? 0); i += 1) bump();
        },
        () => undefined,
      );
    }
    return result;
  };
}

export const LIBRARIES: Library[] = [skunq, pgBoss, graphileWorker];
