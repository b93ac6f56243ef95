import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend, type StorageBackend } from '@skq/core/backend';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { eventually, missingMongoServer, missingServer, newJob, startMongoServer, startRedis, tempSqlite, uniqueQueue } from '@skq/testing';
import { registerChaosBackends, serveSimulator } from '../src/fdb-remote-simulator.js';

// Issue 21, item 19: a pause that lands while claims are in flight in OTHER processes. Once
// setPaused() has resolved, no job of the route starts anywhere. Each claiming process reports every
// claim with the time it was sent and answered, on the machine's monotonic clock that this process
// reads too (process.hrtime): a claim sent after pause() resolved must take nothing,
// on every backend, however late the store is counted.
// A claim sent before pause() resolved and answered after it may take its `limit` (3): setPaused's
// TSDoc says "a claim that begins after the pause is stored returns nothing; one already under way may
// still finish". On MongoDB such a claim may read the pause before it is stored and take deliveries
// after (one findOneAndUpdate at a time); on SQLite, Redis and FoundationDB a claim reads the pause in
// the step that takes the jobs, but one that committed just before the pause can still be answered
// after pause() resolved (seen on SQLite and Redis), and clocks outside the store cannot order the two
// commits. So the in-flight claims are counted and bounded (one per claim loop) on every backend.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLAIMER = fileURLToPath(new URL('./fixtures/pause-claimer.ts', import.meta.url));
const PROCESSES = 2;
/** Claim loops per process (see the fixture), each with at most one claim under way, of `limit` 3. */
const LOOPS = 2;
const LIMIT = 3;
/** What claims in flight when pause() resolved may still take: one claim per loop, each of `limit`. */
const IN_FLIGHT_ALLOWANCE = PROCESSES * LOOPS * LIMIT;

registerChaosBackends();

interface Store {
  url: string;
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
      // Every succeeded job kept: the check compares the claims reported with the store's counts, which SQLite's
      // default retention (the newest 1,000) would lower once a busy machine let the claimers pass 1,000 before the pause.
      return { url: `${db.url}?removeOnComplete=false&removeOnFail=false`, total: 3_000, stop: async () => db.remove() };
    },
  },
  {
    name: 'redis',
    missing: redisMissing,
    start: async () => {
      const redis = await startRedis();
      return { url: redis.url, total: 3_000, stop: () => redis.stop() };
    },
  },
  {
    name: 'mongodb (mongo-java-server)',
    missing: mongoMissing,
    start: async () => {
      const mongo = await startMongoServer('mongo-java-server');
      return { url: mongo.url.replace('/?', `/skq_pause_${process.pid}?`), total: 400, stop: () => mongo.stop() };
    },
  },
  {
    // The simulator lives in one process: it is served over loopback to the claiming processes.
    name: 'foundationdb (simulator, served to the other processes)',
    missing: null,
    start: async () => {
      const served = await serveSimulator(new SimulatedCluster());
      return { url: `fdb-sim://127.0.0.1:${served.port}`, total: 3_000, stop: () => served.close() };
    },
  },
];

/** One claim as a claiming process reports it: sent and answered on the host's clock, and what it took. */
interface Claim {
  sent: number;
  answered: number;
  paused: boolean;
  taken: number;
}

/** The host's clock, as the claiming processes read it. */
// The machine's monotonic clock, which every process reads alike (timeOrigin + performance.now() is each
// process's wall-clock start plus an interval: processes disagree by the wall clock's slew between their starts).
const clock = () => Number(process.hrtime.bigint()) / 1e6;

/** A claiming process, with the claims it has reported. */
function startClaimer(url: string, queue: string, id: string): { child: ChildProcess; claims: Claim[]; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', CLAIMER, url, queue, id], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const claims: Claim[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    // Other lines (a backend's info log) are not the fixture's.
    const report = /^(claim|paused) (\S+) (\S+)(?: (\d+))?$/.exec(line);
    if (report) claims.push({ sent: Number(report[2]), answered: Number(report[3]), paused: report[1] === 'paused', taken: Number(report[4] ?? 0) });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, claims, exited, stderr: () => stderr };
}

const taken = (claims: Claim[]) => claims.reduce((sum, c) => sum + c.taken, 0);

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
        await eventually(() => claimers.every((c) => taken(c.claims) >= 6), 'both processes to be claiming', 60_000).catch((err: Error) => {
          throw new Error(`${err.message}\n${claimers.map((c) => c.stderr()).join('\n')}`);
        });
        await backend.setPaused(queue, 'r', true);
        const resolved = clock();
        // Each process has since had several claims sent after the resolve answered: a claim in flight at the pause has ended.
        await eventually(() => claimers.every((c) => c.claims.filter((claim) => claim.sent > resolved).length >= 3 * LOOPS), 'every claimer to be answered after the pause', 30_000);
        // A claim sent after pause() resolved is answered `paused` and takes nothing, however late the store would be counted.
        const late = (claims: Claim[]) => claims.filter((c) => c.sent > resolved && (c.taken > 0 || !c.paused)).map((c) => ({ sentAfterResolveMs: c.sent - resolved, taken: c.taken, paused: c.paused }));
        expect(late(claimers.flatMap((c) => c.claims)), 'claims sent after pause() resolved').toEqual([]);
        // Nothing was stranded: what was claimed ran to the end, and every claimed delivery was reported by the claim that took it.
        await eventually(async () => (await backend.countByState(queue)).r!.running === 0, 'claimed jobs to finish', 15_000);
        const inStore = await claimedInStore(backend, queue);
        await eventually(() => taken(claimers.flatMap((c) => c.claims)) === inStore, 'every claim taken to be reported', 15_000);
        const claims = claimers.flatMap((c) => c.claims);
        const inFlight = claims.filter((c) => c.sent <= resolved && c.answered > resolved);
        console.log(
          `pause across processes on ${name}: ${inStore} claimed; ${late(claims).length} claims sent after pause() resolved took jobs; ` +
            `${inFlight.length} claims in flight at the resolve took ${taken(inFlight)} (allowed: ${IN_FLIGHT_ALLOWANCE})`,
        );
        expect(inStore).toBeLessThan(total);
        expect(late(claims), 'claims sent after pause() resolved, all reported').toEqual([]);
        expect(inFlight.length).toBeLessThanOrEqual(PROCESSES * LOOPS);
        expect(taken(inFlight)).toBeLessThanOrEqual(IN_FLIGHT_ALLOWANCE);
        const counts = (await backend.countByState(queue)).r!;
        expect(counts.succeeded).toBe(inStore);
        expect(counts.queued).toBe(total - inStore);
        // Resumed, the route is claimed again.
        await backend.setPaused(queue, 'r', false);
        await eventually(async () => (await claimedInStore(backend, queue)) > inStore, 'claims to go on after resume', 30_000);
      } finally {
        for (const c of claimers) c.child.stdin!.end();
        for (const c of claimers) expect(await c.exited, c.stderr()).toBe(0);
      }
    }, 180_000);
  });
}
