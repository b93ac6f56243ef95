// pnpm bench:retention — runs many jobs through a queue with `removeOnComplete: 1000` on each backend
// and prints what is left: finished jobs, the SQLite file's size, MongoDB's collection counts and
// Redis's key count, at checkpoints, to show that storage stays bounded instead of growing per job.
// Options (env): RETENTION_JOBS (default 200000), RETENTION_BACKENDS (sqlite,redis,mongodb).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { SkunkQueue, type StorageBackend } from '@skq/core';
import { WorkerPool } from '@skq/worker';
import { SqliteBackend } from '@skq/sqlite';
import { RedisBackend } from '@skq/redis';
import { MongoBackend } from '@skq/mongodb';
import { startMongoServer, startRedis } from '@skq/testing';

const JOBS = Number(process.env.RETENTION_JOBS ?? 200_000);
const BACKENDS = (process.env.RETENTION_BACKENDS ?? 'sqlite,redis,mongodb').split(',');
const KEEP = 1_000;
const BATCH = 1_000;
const CHECKPOINTS = [0.25, 0.5, 0.75, 1].map((f) => Math.round(JOBS * f));

/** Fires JOBS jobs in batches, keeping at most 20 batches ahead of the workers, and reports at each checkpoint. */
async function drive(name: string, backend: StorageBackend, measure: () => Promise<string>): Promise<void> {
  const queue = new SkunkQueue(`retention-${name}`, { backend, removeOnComplete: KEEP });
  const noop = queue.job({ name: 'noop', routes: ['r'] }, async (n: number) => n);
  const pool = new WorkerPool({ queue, routes: ['r'], concurrency: 64, handleSignals: false, catchEscapedErrors: false });
  await pool.start();
  const started = performance.now();
  let fired = 0;
  const done = () => pool.stats().succeeded;
  for (const checkpoint of CHECKPOINTS) {
    while (done() < checkpoint) {
      if (fired < checkpoint && fired - done() < 20 * BATCH) {
        const size = Math.min(BATCH, checkpoint - fired);
        await queue.pushMany(Array.from({ length: size }, (_, i) => noop.with(fired + i)));
        fired += size;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const finished = (await queue.counts()).r?.succeeded ?? 0;
    const rate = Math.round(done() / ((performance.now() - started) / 1000));
    console.log(`${name.padEnd(8)} ${String(checkpoint).padStart(7)} jobs done (${rate}/s): ${String(finished).padStart(6)} succeeded jobs kept; ${await measure()}`);
  }
  await pool.close();
  await queue.close();
}

const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;

if (BACKENDS.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'skq-retention-'));
  const file = join(dir, 'retention.db');
  const backend = new SqliteBackend({ path: file });
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  await drive('sqlite', backend, async () => `file ${kib(size(file))} + WAL ${kib(size(`${file}-wal`))}`);
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}

if (BACKENDS.includes('redis')) {
  const server = await startRedis();
  const backend = await RedisBackend.connect(`redis://127.0.0.1:${server.port}`);
  const admin = new Redis(server.port, '127.0.0.1');
  await drive('redis', backend, async () => {
    const memory = (await admin.info('memory')).match(/used_memory:(\d+)/)?.[1];
    return `${await admin.dbsize()} keys, used_memory ${kib(Number(memory))}`;
  });
  admin.disconnect();
  await backend.close();
  await server.stop();
}

if (BACKENDS.includes('mongodb')) {
  const server = await startMongoServer('mongo-java-server');
  const url = server.url.replace(/\/(\?|$)/, '/skq_retention$1');
  const backend = await MongoBackend.connect({ url, logger: false });
  const client = await MongoClient.connect(url);
  const db = client.db();
  await drive('mongodb', backend, async () => {
    const counts = await Promise.all(['deliveries', 'jobs', 'logs', 'events'].map(async (c) => `${c} ${await db.collection(`skq_${c}`).countDocuments()}`));
    return `collections: ${counts.join(', ')} (${server.name})`;
  });
  await client.close();
  await backend.close();
  await server.stop();
}
