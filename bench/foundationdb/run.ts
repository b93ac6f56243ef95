// What the FoundationDB backend costs per job, measured on the simulator of FDB's semantics. A
// simulator cannot show real speed, so this prints only what transfers to a real cluster:
// transactions per job, keys and bytes written per job, and conflicts per 1,000 claims at
// concurrency 1, 10 and 100. Targets (issue 11): ≤ 2 committed transactions per job with batching,
// and fewer than 5 conflicts per 1,000 claims at concurrency 100.
//
//   pnpm bench:foundationdb            # FDB_BENCH_JOBS=10000, FDB_BENCH_ROUNDS=3 by default
import { leaseOf, type NewJob } from '@skq/core/backend';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { fmt, median } from '../stats.js';

const JOBS = Number(process.env.FDB_BENCH_JOBS ?? 10_000);
const ROUNDS = Number(process.env.FDB_BENCH_ROUNDS ?? 3);
const ENQUEUE_BATCH = 100;

function jobs(queue: string, n: number): NewJob[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    id: `${queue}-${i}`, queue, name: 'send-email', args: [{ to: `user${i}@example.com` }], routes: ['r'], type: 'direct', priority: 0, runAt: now, createdAt: now + i,
    options: { attempts: 3, backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 60_000, jitter: 0.2 }, timeoutMs: null },
  }));
}

/** One worker, batches of 10 per claim: the happy path from enqueue to completion. */
async function happyPath(): Promise<{ committedPerJob: number; attemptsPerJob: number; keysPerJob: number; bytesPerJob: number }> {
  const cluster = new SimulatedCluster();
  const db = cluster.open();
  const backend = FdbBackend.onDatabase(db);
  const queue = 'happy';
  const all = jobs(queue, JOBS);
  for (let i = 0; i < JOBS; i += ENQUEUE_BATCH) await backend.enqueue(all.slice(i, i + ENQUEUE_BATCH));
  for (;;) {
    const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 60_000 });
    if (deliveries.length === 0) break;
    for (const d of deliveries) await backend.complete(queue, leaseOf(d), { sent: true });
  }
  await backend.close();
  return {
    committedPerJob: cluster.stats.committed / JOBS,
    attemptsPerJob: db.counts.transactions / JOBS,
    keysPerJob: cluster.stats.keysWritten / JOBS,
    bytesPerJob: cluster.stats.bytesWritten / JOBS,
  };
}

/** `concurrency` claimers, each its own client and registered as a worker, one job per claim. */
async function contention(concurrency: number): Promise<{ claims: number; conflicts: number; steadyClaims: number; steadyConflicts: number }> {
  const cluster = new SimulatedCluster();
  const producer = FdbBackend.onDatabase(cluster.open());
  const queue = `c${concurrency}`;
  const all = jobs(queue, JOBS);
  for (let i = 0; i < JOBS; i += ENQUEUE_BATCH) await producer.enqueue(all.slice(i, i + ENQUEUE_BATCH));
  const before = cluster.stats.conflicts;
  let claims = 0;
  // The steady part ends when fewer than ten jobs per claimer are left: then claimers outnumber the
  // work at the head, as they do when a backlog drains, and claims collide however they choose.
  const steadyUntil = JOBS - concurrency * 10;
  let steadyConflicts = 0;
  const claimers = Array.from({ length: concurrency }, () => FdbBackend.onDatabase(cluster.open()));
  // Claimers register as skunq's workers do: a claim splits the head among the live workers of its route.
  await Promise.all(claimers.map((b, i) => b.registerWorker({ id: `w${i}`, queue, routes: ['r'], hostname: 'bench', pid: i, startedAt: Date.now() }, 3_600_000)));
  await Promise.all(
    claimers.map(async (backend, i) => {
      for (;;) {
        const { deliveries } = await backend.claim({ queue, route: 'r', workerId: `w${i}`, limit: 1, leaseMs: 60_000 });
        if (deliveries.length === 0) return;
        claims += 1;
        if (claims === steadyUntil) steadyConflicts = cluster.stats.conflicts - before;
        await backend.complete(queue, leaseOf(deliveries[0]!), null);
      }
    }),
  );
  await Promise.all([producer, ...claimers].map((b) => b.close()));
  return { claims, conflicts: cluster.stats.conflicts - before, steadyClaims: steadyUntil, steadyConflicts };
}

const happy = [];
for (let r = 0; r < ROUNDS; r += 1) happy.push(await happyPath());
console.log(`\n@skq/foundationdb on the simulator: ${fmt(JOBS)} jobs, median of ${ROUNDS} rounds\n`);
console.log('| happy path (enqueue in batches of 100, claims of 10, one complete per job) | per job |');
console.log('|---|---:|');
console.log(`| committed transactions | ${fmt(median(happy.map((h) => h.committedPerJob)), 2)} |`);
console.log(`| transaction attempts (reads and retries included) | ${fmt(median(happy.map((h) => h.attemptsPerJob)), 2)} |`);
console.log(`| keys written | ${fmt(median(happy.map((h) => h.keysPerJob)), 1)} |`);
console.log(`| bytes written (keys and values) | ${fmt(median(happy.map((h) => h.bytesPerJob)), 0)} |`);

console.log('\n| claimers (one client each, registered, one job per claim) | conflicts per 1,000 claims, backlog ≥ 10 per claimer | conflicts per 1,000 claims, whole drain | conflicts, whole drain |');
console.log('|---:|---:|---:|---:|');
const at100: number[] = [];
for (const c of [1, 10, 100]) {
  const rounds = [];
  for (let r = 0; r < ROUNDS; r += 1) rounds.push(await contention(c));
  // A run too small to keep ten jobs per claimer has no steady part.
  const steady = rounds[0]!.steadyClaims > 0 ? median(rounds.map((x) => (x.steadyConflicts / x.steadyClaims) * 1_000)) : Number.NaN;
  const whole = median(rounds.map((x) => (x.conflicts / x.claims) * 1_000));
  if (c === 100) at100.push(steady, whole);
  console.log(`| ${c} | ${Number.isNaN(steady) ? "n/a" : fmt(steady, 1)} | ${fmt(whole, 1)} | ${fmt(median(rounds.map((x) => x.conflicts)))} |`);
}
const committed = median(happy.map((h) => h.committedPerJob));
console.log(
  `\ntargets: ≤ 2 committed transactions per job: ${committed <= 2 ? 'met' : 'missed'} (${fmt(committed, 2)}); ` +
    `< 5 conflicts per 1,000 claims at 100: ${at100[0]! < 5 ? 'met' : 'missed'} with a backlog (${fmt(at100[0]!, 1)}), ${at100[1]! < 5 ? 'met' : 'missed'} over the whole drain (${fmt(at100[1]!, 1)})`,
);
