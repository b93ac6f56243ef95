import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { eventually, missingMongoServer, missingServer, mongoServerName, startMongoServer, startRedis, uniqueQueue, type MongoTestServer, type RedisServer } from '@skq/testing';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('../../../internal/testing/fixtures/schedule-runner.ts', import.meta.url));
const EVERY_MS = 100;
const dir = mkdtempSync(join(tmpdir(), 'skq-sched-proc-'));
const missingRedis = missingServer('redis-server', 'apt-get install redis-server');
const missingMongo = missingMongoServer('mongo-java-server');
let redis: RedisServer | undefined;
let mongo: MongoTestServer | undefined;

beforeAll(async () => {
  if (!missingRedis) redis = await startRedis();
  if (!missingMongo) mongo = await startMongoServer('mongo-java-server');
}, 60_000);
afterAll(async () => {
  await redis?.stop();
  await mongo?.stop();
  if (redis) rmSync(redis.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

function startRunner(url: string, queue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', RUNNER, url, queue], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('running')) resolve(child);
    });
    child.stderr!.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => reject(new Error(`scheduler process exited (${code}): ${out}`)));
  });
}

const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.on('exit', resolve)));

async function threeSchedulers(url: () => string) {
  const queue = new SkunkQueue(uniqueQueue('ticks'), { backend: url() });
  const job = queue.job({ name: 'tick', routes: ['r'] }, async () => 1);
  // Schedules are saved once the schedulers run: ticks nobody was there to fire are skipped by design.
  const runners = await Promise.all([1, 2, 3].map(() => startRunner(url(), queue.name)));
  await queue.schedule('ticks', job.with(), { every: { millis: EVERY_MS } });
  const fired = async () => (await queue.schedules())[0]!.firedCount;
  try {
    await eventually(async () => (await fired()) >= 50, '50 ticks', 30_000);
    runners[0]!.kill('SIGKILL');
    await exited(runners[0]!);
    await eventually(async () => (await fired()) >= 100, '100 ticks', 30_000);
  } finally {
    for (const child of runners.slice(1)) child.kill('SIGTERM');
    await Promise.all(runners.map(exited));
  }
  const [record] = await queue.schedules();
  const ticks = (await queue.list({ limit: 1_000 })).jobs.map((j) => Number(j.id.slice(j.id.lastIndexOf(':') + 1))).sort((a, b) => a - b);
  await queue.close();
  return { record: record!, ticks };
}

function expectEveryTickOnce({ record, ticks }: Awaited<ReturnType<typeof threeSchedulers>>) {
  expect(ticks.length).toBe(record.firedCount);
  expect(ticks.length).toBeGreaterThanOrEqual(100);
  expect(new Set(ticks).size).toBe(ticks.length);
  const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!).filter((gap) => gap !== EVERY_MS);
  expect(gaps, 'ticks missed or doubled').toEqual([]);
}

describe('three scheduler processes on one backend', () => {
  it('sqlite: fire each of 100+ ticks exactly once, with no gap after one is SIGKILLed', async () => {
    expectEveryTickOnce(await threeSchedulers(() => `sqlite:${join(dir, 'ticks.db')}`));
  }, 60_000);

  it.skipIf(missingRedis)(`redis: fire each of 100+ ticks exactly once, with no gap after one is SIGKILLed ${missingRedis ?? ''}`, async () => {
    expectEveryTickOnce(await threeSchedulers(() => redis!.url));
  }, 60_000);

  it.skipIf(missingMongo)(`mongodb on ${mongoServerName('mongo-java-server')}: fire each of 100+ ticks exactly once, with no gap after one is SIGKILLed ${missingMongo ?? ''}`, async () => {
    expectEveryTickOnce(await threeSchedulers(() => mongo!.url.replace('/?', '/skq_ticks?')));
  }, 60_000);
});
