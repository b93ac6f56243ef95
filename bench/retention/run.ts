// pnpm bench:retention — runs many jobs through a queue with `removeOnComplete: 1000` on each backend
// and prints what is left: finished jobs, the SQLite file's size, MongoDB's collection counts and
// Redis's key count, at checkpoints, to show that storage stays bounded instead of growing per job.
// It fails (exit 1) when the kept count passes its bound (N plus the documented 10 % trimming overshoot
// and the jobs in flight) or when storage at the end exceeds the half-way checkpoint by more than a
// quarter plus a small allowance: CI runs it short (RETENTION_JOBS=20000).
// Options (env): RETENTION_JOBS (default 200000), RETENTION_MONGO_JOBS (20000), RETENTION_BACKENDS (sqlite,redis,mongodb),
// RETENTION_SQLITE_EVENTS (SQLite's eventRetentionCount; default the backend's 100,000, which a short run never reaches),
// RETENTION_MONGO_SERVER (mongo-java-server, ferretdb, or mongodb with SKQ_MONGODB_URL).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { SkunkQueue } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
import { WorkerPool } from '@skq/worker';
import { SqliteBackend } from '@skq/sqlite';
import { RedisBackend } from '@skq/redis';
import { MongoBackend } from '@skq/mongodb';
import { startRedis } from '@skq/testing/servers';
import { startMongoServer, type MongoServerKind } from '@skq/testing/mongo-servers';

const JOBS = Number(process.env.RETENTION_JOBS ?? 200_000);
const SQLITE_EVENTS = process.env.RETENTION_SQLITE_EVENTS ? Number(process.env.RETENTION_SQLITE_EVENTS) : undefined;
const BACKENDS = (process.env.RETENTION_BACKENDS ?? 'sqlite,redis,mongodb').split(',');
const KEEP = 1_000;
const BATCH = 1_000;
/** Which MongoDB wire-protocol server: mongo-java-server (the default), ferretdb, or mongodb (SKQ_MONGODB_URL). */
const MONGO_SERVER = (process.env.RETENTION_MONGO_SERVER ?? 'mongo-java-server') as MongoServerKind;
/** mongo-java-server's sorted findOneAndUpdate is a scan (a few hundred jobs/s), so MongoDB runs fewer jobs by default. */
const MONGO_JOBS = Number(process.env.RETENTION_MONGO_JOBS ?? 20_000);
const checkpoints = (jobs: number) => [0.25, 0.5, 0.75, 1].map((f) => Math.round(jobs * f));
const CONCURRENCY = 64;
/** The most finished jobs retention may leave: N, its trimming overshoot (about 10 %), and jobs ending meanwhile. */
const MAX_KEPT = Math.ceil(KEEP * 1.1) + CONCURRENCY;
const failures: string[] = [];

/** One checkpoint's reading: a line to print, and the storage figure that must stay bounded. */
interface Reading {
  text: string;
  size: number;
  /** The allowance past 25 % growth, in the size's own unit (bytes or documents). */
  slack: number;
}

/**
 * Fires JOBS jobs in batches, keeping at most `ahead` jobs waiting, and reports at each checkpoint.
 * (mongo-java-server sorts a claim's candidates in memory: a short backlog keeps its claims quick.)
 */
async function drive(name: string, backend: StorageBackend, measure: () => Promise<Reading>, jobs = JOBS, ahead = 20 * BATCH): Promise<void> {
  const queue = new SkunkQueue(`retention-${name}`, { backend, removeOnComplete: KEEP });
  const noop = queue.job({ name: 'noop', routes: ['r'] }, async (n: number) => n);
  const pool = new WorkerPool({ queue, routes: ['r'], concurrency: CONCURRENCY, handleSignals: false, catchEscapedErrors: false });
  await pool.start();
  const started = performance.now();
  let fired = 0;
  const done = () => pool.stats().succeeded;
  const readings: Reading[] = [];
  for (const checkpoint of checkpoints(jobs)) {
    while (done() < checkpoint) {
      if (fired < checkpoint && fired - done() < ahead) {
        const size = Math.min(BATCH, checkpoint - fired);
        await queue.pushMany(Array.from({ length: size }, (_, i) => noop.with(fired + i)));
        fired += size;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const finished = (await queue.counts()).r?.succeeded ?? 0;
    const rate = Math.round(done() / ((performance.now() - started) / 1000));
    const reading = await measure();
    readings.push(reading);
    console.log(`${name.padEnd(8)} ${String(checkpoint).padStart(7)} jobs done (${rate}/s): ${String(finished).padStart(6)} succeeded jobs kept; ${reading.text}`);
    if (finished > MAX_KEPT) failures.push(`${name}: ${finished} succeeded jobs kept after ${checkpoint} jobs, more than ${MAX_KEPT}`);
  }
  const [half, end] = [readings[1]!, readings[3]!];
  if (end.size > half.size * 1.25 + end.slack) failures.push(`${name}: storage grew from ${half.size} at half-way to ${end.size} at the end (bound ${Math.round(half.size * 1.25 + end.slack)})`);
  await pool.close();
  await queue.close();
}

const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;

if (BACKENDS.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'skq-retention-'));
  const file = join(dir, 'retention.db');
  const backend = new SqliteBackend({ path: file, ...(SQLITE_EVENTS === undefined ? {} : { eventRetentionCount: SQLITE_EVENTS }) });
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  await drive('sqlite', backend, async () => ({
    text: `file ${kib(size(file))} + WAL ${kib(size(`${file}-wal`))}`,
    size: size(file) + size(`${file}-wal`),
    // The WAL is checkpointed at 1,000 pages (4 MiB) and keeps its size, so it may fill up once more.
    slack: 5 * 1024 * 1024,
  }));
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}

if (BACKENDS.includes('redis')) {
  const server = await startRedis();
  const backend = await RedisBackend.connect(`redis://127.0.0.1:${server.port}`);
  const admin = new Redis(server.port, '127.0.0.1');
  await drive('redis', backend, async () => {
    const memory = Number((await admin.info('memory')).match(/used_memory:(\d+)/)?.[1]);
    return { text: `${await admin.dbsize()} keys, used_memory ${kib(memory)}`, size: memory, slack: 2 * 1024 * 1024 };
  });
  admin.disconnect();
  await backend.close();
  await server.stop();
}

if (BACKENDS.includes('mongodb')) {
  const server = await startMongoServer(MONGO_SERVER);
  const url = server.url.replace(/\/(\?|$)/, '/skq_retention$1');
  const backend = await MongoBackend.connect({ url, logger: false });
  const client = await MongoClient.connect(url);
  const db = client.db();
  await drive('mongodb', backend, async () => {
    const counts = await Promise.all(['deliveries', 'jobs', 'logs', 'events'].map(async (c) => [c, await db.collection(`skq_${c}`).countDocuments()] as const));
    return {
      text: `collections: ${counts.map(([c, n]) => `${c} ${n}`).join(', ')} (${server.name})`,
      // Documents, not bytes: the test servers report no storage size that means anything. Events are
      // left out: they are trimmed by their own bound (the newest 100,000), which a short run never reaches.
      size: counts.reduce((sum, [c, n]) => (c === 'events' ? sum : sum + n), 0),
      slack: MAX_KEPT,
    };
  }, MONGO_JOBS, 2 * BATCH);
  await client.close();
  await backend.close();
  await server.stop();
}

if (failures.length > 0) {
  console.error(`retention is not bounded:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(`retention bounded: at most ${MAX_KEPT} finished jobs kept, storage flat from half-way to the end`);
