// The list position a caller hands the backend becomes part of a key: one no tuple can hold (a
// fractional or unsafe time, an id that is not a string) is the caller's error, refused before any key is packed.
import { afterAll, describe, expect, it } from 'vitest';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { newJob, uniqueQueue } from '@skq/testing';

const backend = FdbBackend.onDatabase(new SimulatedCluster().open());
afterAll(() => backend.close());

describe('listJobs from a forged position', () => {
  it('refuses a position no listing returned with ARGS_INVALID, not the tuple encoder\'s error', async () => {
    const queue = uniqueQueue('forged-position');
    const job = newJob(queue);
    await backend.enqueue([job]);
    for (const after of [{ createdAt: 1.5, id: 'x' }, { createdAt: 2 ** 60, id: 'x' }, { createdAt: Number.NaN, id: 'x' }, { createdAt: job.createdAt, id: 7 }, 42]) {
      await expect(backend.listJobs({ queue, after: after as never, limit: 10 }), JSON.stringify(after)).rejects.toMatchObject({ code: 'ARGS_INVALID', context: { field: 'after' } });
    }
    expect((await backend.listJobs({ queue, after: { createdAt: job.createdAt + 1, id: '' }, limit: 10 })).map((j) => j.id)).toEqual([job.id]);
  });
});
