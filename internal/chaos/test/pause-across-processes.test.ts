import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend, type StorageBackend } from '@skq/core';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { eventually, missingMongoServer, missingServer, newJob, startMongoServer, startRedis, tempSqlite, uniqueQueue } from '@skq/testing';
import { registerChaosBackends, serveSimulator } from '../src/fdb-remote-simulator.js';

// Issue 21, item 19: a pause that lands while claims are in flight in OTHER processes. Once
// setPaused() has resolved, no job of the route starts anywhere: the claim records in the store (a
// delivery leaves `queued` when it is claimed) stop growing. The contract's one allowance (setPaused's
// TSDoc: "a claim that begins after the pause is stored returns nothing; one already under way may
// still finish") matters on MongoDB only, whose claim reads the pause and then takes deliveries one
// findOneAndUpdate at a time: each claim loop's one claim under way may still take its `limit` (3).
// On SQLite, Redis and FoundationDB a claim reads the pause in the step that takes the jobs.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLAIMER = fileURLToPath(new URL('./fixtures/pause-claimer.ts', import.meta.url));
const PROCESSES = 2;
/** Claim loops per process (see the fixture), each with at most one claim under way, of `limit` 3. */
const LOOPS = 2;
const LIMIT = 3;

registerChaosBackends();

interface Store {
  url: string;
  /** Deliveries one in-flight claim per loop may still take after the pause resolves. */
  allowance: number;
  /** Jobs queued before the claimers start (fewer on mongo-java-server, whose sorted claim is a scan). */
  total: number;
  stop(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const redisMissing = missingServer('redis-server', 'apt-get install redis-server');
const mongoMissing = missingMongoServer('mongo-java-server');
const backends: { name: string; missing: string | null; start: () => Promise<Store> }[] = [
  {
    name: 'sqlite',
    missing: null,
    start: async () => {
      const db = tempSqlite('pause-xproc');
      return { url: db.url, allowance: 0, total: 3_000, stop: async () => db.remove() };
    },
  },
  {
    name: 'redis',
    missing: redisMissing,
    start: async () => {
      const redis = await startRedis();
      return { url: redis.url, allowance: 0, total: 3_000, stop: () => redis.stop() };
    },
  },
  {
    name: 'mongodb (mongo-java-server)',
    missing: mongoMissing,
    start: async () => {
      const mongo = await startMongoServer('mongo-java-server');
      return { url: mongo.url.replace('/?', `/skq_pause_${process.pid}?`), allowance: PROCESSES * LOOPS * LIMIT, total: 400, stop: () => mongo.stop() };
    },
  },
  {
    // The simulator lives in one process: it is served over loopback to the claiming processes.
    name: 'foundationdb (simulator, served to the other processes)',
    missing: null,
    start: async () => {
      const served = await serveSimulator(new SimulatedCluster());
      return { url: `fdb-sim://127.0.0.1:${served.port}`, allowance: 0, total: 3_000, stop: () => served.close() };
    },
  },
];

/** A claiming process, with counts of its claim outcomes as it reports them. */
function startClaimer(url: string, queue: string, id: string): { child: ChildProcess; claimed: () => number; pausedAnswers: () => number; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', CLAIMER, url, queue, id], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let claimed = 0;
  let paused = 0;
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    // Other lines (a backend's info log) are not the fixture's.
    if (line === 'paused') paused += 1;
    else if (/^claimed \d+$/.test(line)) claimed += Number(line.slice(8));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, claimed: () => claimed, pausedAnswers: () => paused, exited, stderr: () => stderr };
}

/** Deliveries of route `r` that have been claimed: every state but queued. */
async function claimedInStore(backend: StorageBackend, queue: string): Promise<number> {
  const r = (await backend.countByState(queue)).r;
  return r ? r.running + r.succeeded + r.failed + r.cancelled : 0;
}

for (const { name, missing, start } of backends) {
  describe.skipIf(missing)(`pause racing claims in other processes, on ${name}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    it('starts no job of the paused route anywhere once pause has resolved (beyond the in-flight claims the contract allows)', async () => {
      const store = await start();
      cleanups.push(store.stop);
      const backend = await openBackend(store.url);
      cleanups.push(() => backend.close());
      const queue = uniqueQueue('pause-xproc');
      const { total } = store;
      for (let i = 0; i < total; i += 200) await backend.enqueue(Array.from({ length: 200 }, () => newJob(queue)));
      const claimers = Array.from({ length: PROCESSES }, (_, i) => startClaimer(store.url, queue, `p${i}`));
      try {
        // Both processes are claiming (their claims are under way, back to back) when the pause lands.
        await eventually(() => claimers.every((c) => c.claimed() >= 6), 'both processes to be claiming', 60_000).catch((err: Error) => {
          throw new Error(`${err.message}\n${claimers.map((c) => c.stderr()).join('\n')}`);
        });
        await backend.setPaused(queue, 'r', true);
        const atPause = await claimedInStore(backend, queue);
        expect(atPause).toBeLessThan(total);
        // Every claim loop has since been told `paused` several times: a claim in flight at the pause has ended.
        await eventually(() => claimers.every((c) => c.pausedAnswers() >= 3 * LOOPS), 'every claimer to be answered paused', 30_000);
        const later = await claimedInStore(backend, queue);
        console.log(`pause across processes on ${name}: ${atPause} claimed when pause resolved, ${later - atPause} after (allowed: ${store.allowance})`);
        expect(later - atPause).toBeGreaterThanOrEqual(0);
        expect(later - atPause).toBeLessThanOrEqual(store.allowance);
        // Nothing was stranded: what was claimed ran to the end, the rest waits, queued.
        await eventually(async () => (await backend.countByState(queue)).r!.running === 0, 'claimed jobs to finish', 15_000);
        const counts = (await backend.countByState(queue)).r!;
        expect(counts.succeeded).toBe(later);
        expect(counts.queued).toBe(total - later);
        // Resumed, the route is claimed again.
        await backend.setPaused(queue, 'r', false);
        await eventually(async () => (await claimedInStore(backend, queue)) > later, 'claims to go on after resume', 30_000);
      } finally {
        for (const c of claimers) c.child.stdin!.end();
        for (const c of claimers) expect(await c.exited, c.stderr()).toBe(0);
      }
    }, 180_000);
  });
}
