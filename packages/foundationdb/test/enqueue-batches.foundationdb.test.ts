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
});
