import { describe, expect, it } from 'vitest';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { newJob, uniqueQueue } from '@skq/testing';

// FDB limits a transaction to 10 MB: an enqueue of many large jobs is cut into transactions by
// bytes, so a batch whose jobs each fit is stored whole, never refused half-way.
describe('FoundationDB enqueue of large batches', () => {
  it('stores 200 jobs of 1 KB and 200 of 60 KB (12 MB) in one call', async () => {
    const backend = FdbBackend.onDatabase(new SimulatedCluster().open());
    const queue = uniqueQueue('fdb-batches');
    const jobs = [...Array.from({ length: 200 }, () => newJob(queue, { args: ['s'.repeat(1_000)] })), ...Array.from({ length: 200 }, () => newJob(queue, { args: ['l'.repeat(60_000)] }))];
    const results = await backend.enqueue(jobs);
    expect(results.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    expect((await backend.countByState(queue)).r?.queued).toBe(400);
    await backend.close();
  }, 60_000);

  it('stores nothing when a later transaction fails for a reason other than size, keeping jobs that were there before', async () => {
    const cluster = new SimulatedCluster();
    const backend = FdbBackend.onDatabase(cluster.open());
    const queue = uniqueQueue('fdb-batches-undo');
    // Already stored before the call: one job by id, one holding a dedupe key.
    const before = newJob(queue, { id: 'stored-before' });
    const holder = newJob(queue, { id: 'holds-key', dedupeKey: 'k' });
    await backend.enqueue([before, holder]);
    const jobs = [before, newJob(queue, { dedupeKey: 'k' }), ...Array.from({ length: 248 }, () => newJob(queue))];
    // The first enqueue transaction (200 jobs) commits; the second (50) fails with transaction_timed_out.
    cluster.failCommit(1);
    await expect(backend.enqueue(jobs)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect((await backend.countByState(queue)).r?.queued).toBe(2);
    expect((await backend.listJobs({ queue, limit: 1_000 })).map((j) => j.id).sort()).toEqual(['holds-key', 'stored-before']);
    // A retry of the same call stores every job once.
    const results = await backend.enqueue(jobs);
    expect(results.filter((r) => r.deduped).map((r) => r.id)).toEqual(['holds-key']);
    expect((await backend.countByState(queue)).r?.queued).toBe(250);
    await backend.close();
  }, 60_000);
});
