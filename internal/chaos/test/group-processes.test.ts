import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { eventually, missingMongoServer, missingPostgres, missingServer, startMongoServer, startPostgres, startRedis, uniqueQueue } from '@skq/testing';
import { chaosFaults, registerChaosBackends, serveSimulator } from '../src/fdb-remote-simulator.js';
import { busiestWindow, mostAtOnce } from '../src/group-checks.js';

// Groups across processes, as a user runs them: 4 worker processes of concurrency 20 on one store,
// the limits checked from the handlers' own records of when they started and ended. Every backend
// that keeps groups: MongoDB on mongo-java-server and FoundationDB on its simulator served to the
// worker processes over loopback, with injected conflicts and commits of unknown result (substitutes:
// no mongod or fdbserver can run here).

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./fixtures/group-worker.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skq-groups-proc-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

registerChaosBackends();

/** A store the cases run on: its URL once started (and stopped after the file's cases). */
interface Store {
  name: string;
  missing: string | null;
  start(): Promise<string>;
  /**
   * How much closer than the window two start times the store reports may be, when its limits run on
   * another clock than the one that stamps them (see FoundationDB's); 0 elsewhere.
   */
  stampSlackMs?: number;
}

const stores: Store[] = [
  { name: 'sqlite', missing: null, start: async () => `sqlite:${join(dir, 'groups.db')}` },
  {
    name: 'postgres',
    missing: missingPostgres(),
    start: async () => {
      const server = await startPostgres();
      cleanups.push(() => server.stop());
      return server.url;
    },
  },
  {
    name: 'redis',
    missing: missingServer('redis-server', 'apt-get install redis-server'),
    start: async () => {
      const server = await startRedis();
      cleanups.push(async () => {
        await server.stop();
        rmSync(server.dir, { recursive: true, force: true });
      });
      return server.url;
    },
  },
  {
    name: 'mongodb (mongo-java-server)',
    missing: missingMongoServer('mongo-java-server'),
    start: async () => {
      const server = await startMongoServer('mongo-java-server');
      cleanups.push(() => server.stop());
      return server.url.replace('/?', `/skq_groups_${process.pid}?`);
    },
  },
  {
    name: 'foundationdb (simulator, served to the worker processes)',
    missing: null,
    // Its rate windows run on cluster versions; a start's `startedAt` is its process's clock read once
    // the claim has its read version, so stamps of two processes' starts can be closer than the window
    // by the difference of their read-version latencies (8 ms seen here on a busy machine). A start
    // beyond the rate would be about 100 ms early at 10 a second.
    stampSlackMs: 50,
    start: async () => {
      const served = await serveSimulator(new SimulatedCluster(chaosFaults(7)));
      cleanups.push(() => served.close());
      return `fdb-sim://127.0.0.1:${served.port}`;
    },
  },
];

type Run = { group: string; start: number; end: number };

function startWorker(url: string, queue: string): Promise<{ child: ChildProcess; records: Promise<Run[]> }> {
  const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', WORKER, url, queue, '20'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk) => (err += chunk));
  const records = new Promise<Run[]>((resolve, reject) => {
    // 'close', not 'exit': the records line may still be in the pipe when the process exits.
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('[')) resolve(JSON.parse(last) as Run[]);
      else reject(new Error(`worker process exited (${code}): ${out}${err}`));
    });
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('running')) resolve({ child, records });
    });
    records.catch(reject);
  });
}

/**
 * Runs `jobs` ([group, ms] each) through 4 worker processes, once `setLimits` has set the limits;
 * returns the handlers' records, and when the store says each job of `startsOf` started (its clock).
 */
async function throughFourWorkers(url: string, setLimits: (queue: SkunkQueue) => Promise<void>, jobs: [string, number][], startsOf?: string): Promise<{ runs: Run[]; starts: number[] }> {
  const queue = new SkunkQueue(uniqueQueue('groups'), { backend: url });
  const job = queue.job({ name: 'limited', routes: ['r'], group: (group: string) => group }, async (_group: string, _ms: number) => undefined);
  await setLimits(queue);
  const workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(url, queue.name)));
  try {
    for (let i = 0; i < jobs.length; i += 100) await queue.pushMany(jobs.slice(i, i + 100).map(([group, ms]) => job.with(group, ms)));
    await eventually(async () => (await queue.counts()).r?.succeeded === jobs.length, `${jobs.length} jobs done`, 60_000);
  } finally {
    for (const { child } of workers) child.kill('SIGTERM');
  }
  const runs = (await Promise.all(workers.map((w) => w.records))).flat();
  const starts: number[] = [];
  for (let page = await queue.list({ limit: 500 }); ; page = await queue.list({ limit: 500, cursor: page.nextCursor! })) {
    for (const record of page.jobs) if (record.group === startsOf) starts.push(record.startedAt!);
    if (!page.nextCursor) break;
  }
  await queue.close();
  return { runs, starts: starts.sort((a, b) => a - b) };
}

/** The most runs of each group at one moment, from their start and end records. */
function mostOfEachGroup(runs: Run[]): Record<string, number> {
  const byGroup = new Map<string, [number, number][]>();
  for (const run of runs) byGroup.set(run.group, [...(byGroup.get(run.group) ?? []), [run.start, run.end]]);
  return Object.fromEntries([...byGroup].map(([group, list]) => [group, mostAtOnce(list).most]));
}

function groupCases(name: string, url: () => string, stampSlackMs: number) {
  it(`${name}: 4 worker processes × concurrency 20 never run more of a group than its limit of 2`, async () => {
    const groups = Array.from({ length: 8 }, (_, i) => `tenant-${i}`);
    const jobs = groups.flatMap((g) => Array.from({ length: 25 }, (): [string, number] => [g, 5 + Math.floor(Math.random() * 15)]));
    const { runs } = await throughFourWorkers(url(), (queue) => queue.setGroupLimits('*', { concurrency: 2 }), jobs);
    expect(runs).toHaveLength(jobs.length);
    expect(mostOfEachGroup(runs)).toEqual(Object.fromEntries(groups.map((g) => [g, 2])));
  }, 90_000);

  it(`${name}: 4 worker processes × concurrency 20 start at most 10 of a group in any 1,000 ms, by the store's clock`, async () => {
    const jobs = [...Array.from({ length: 32 }, (): [string, number] => ['api', 1]), ...Array.from({ length: 40 }, (): [string, number] => ['free', 1])];
    const { runs, starts } = await throughFourWorkers(url(), (queue) => queue.setGroupLimits('api', { rate: { max: 10, perMs: 1_000 } }), jobs, 'api');
    expect(runs).toHaveLength(jobs.length);
    // Starts by the store's clock, as the limit counts them.
    expect(starts).toHaveLength(32);
    // No window of 1,000 ms holds 11 starts (any 11 in a row span at least that); the last of 32 comes after 3 windows.
    expect(busiestWindow(starts, 1_000 - stampSlackMs).most).toBeLessThanOrEqual(10);
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(3_000 - stampSlackMs);
  }, 90_000);
}

for (const store of stores) {
  describe.skipIf(store.missing)(`groups across worker processes, on ${store.name}${store.missing ? ` (skipped: ${store.missing})` : ''}`, () => {
    let url = '';
    beforeAll(async () => {
      url = await store.start();
    }, 60_000);
    groupCases(store.name, () => url, store.stampSlackMs ?? 0);
  });
}
