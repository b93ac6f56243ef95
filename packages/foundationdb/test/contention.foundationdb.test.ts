import { describe, expect, it } from 'vitest';
import { leaseOf } from '@skq/core/backend';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { newJob, uniqueQueue } from '@skq/testing';

const JOBS = 2_000;
const CLAIMERS = 8;

describe.each([
  ['clean', null],
  ['5% conflicts and 2% commit_unknown_result (seed 31)', { seed: 31, conflictRate: 0.05, unknownResultRate: 0.02 }],
] as const)('FoundationDB backend under heavy contention on the simulator, %s', (_label, faults) => {
  it(`${CLAIMERS} claimers in one process against ${JOBS} jobs: every job runs and ends exactly once`, async () => {
    const cluster = new SimulatedCluster(faults);
    const producer = FdbBackend.onDatabase(cluster.open());
    const queue = uniqueQueue('contention');
    const jobs = Array.from({ length: JOBS }, () => newJob(queue));
    const acknowledged = new Set<string>();
    for (let i = 0; i < JOBS; i += 250) for (const r of await producer.enqueue(jobs.slice(i, i + 250))) acknowledged.add(r.id);
    expect(acknowledged.size).toBe(JOBS);

    const runs = new Map<string, number>();
    const claimers = Array.from({ length: CLAIMERS }, () => FdbBackend.onDatabase(cluster.open()));
    await Promise.all(
      claimers.map(async (backend, index) => {
        for (;;) {
          const { deliveries } = await backend.claim({ queue, route: 'r', workerId: `w${index}`, limit: 1 + (index % 4), leaseMs: 60_000 });
          if (deliveries.length === 0) return;
          for (const d of deliveries) {
            runs.set(d.jobId, (runs.get(d.jobId) ?? 0) + 1);
            await backend.complete(queue, leaseOf(d), { by: index });
          }
        }
      }),
    );
    expect(runs.size).toBe(JOBS);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
    expect([...acknowledged].filter((id) => !runs.has(id))).toEqual([]);
    const counts = await producer.countByState(queue);
    expect(counts.r).toMatchObject({ queued: 0, running: 0, succeeded: JOBS, failed: 0 });
    if (faults) expect(cluster.stats.unknownResults).toBeGreaterThan(0);
    await Promise.all([producer, ...claimers].map((b) => b.close()));
  }, 120_000);
});
