import { describe, expect, it } from 'vitest';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { DEFAULT_RUN_OPTIONS } from '@skq/core/backend';
import { newJob, uniqueQueue } from '@skq/testing';

// A complete or fail whose commit applied but answered commit_unknown_result runs again; when that
// ending removed its job (retention `true`), the rerun finds no delivery and must still know the
// ending was its own, not report the job gone.
describe('FoundationDB endings replayed after commit_unknown_result', () => {
  for (const ending of ['complete', 'fail'] as const) {
    it(`${ending}: a rerun of an ending that removed its job answers as the first run did`, async () => {
      const cluster = new SimulatedCluster();
      const backend = FdbBackend.onDatabase(cluster.open());
      const queue = uniqueQueue(`fdb-replay-${ending}`);
      const removeAtOnce = { count: 0, ageMs: null };
      const job = newJob(queue, { options: { ...DEFAULT_RUN_OPTIONS, attempts: 1, removeOnComplete: removeAtOnce, removeOnFail: removeAtOnce } });
      await backend.enqueue([job]);
      const [claimed] = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 })).deliveries;
      const lease = { deliveryId: claimed!.id, workerId: 'w', attempt: claimed!.attempts };
      cluster.failCommit(0, 1021, { applied: true });
      if (ending === 'complete') await expect(backend.complete(queue, lease, 1)).resolves.toBeUndefined();
      else await expect(backend.fail(queue, lease, { error: { message: 'no' } })).resolves.toBe('failed');
      expect(await backend.getJob(queue, job.id)).toBeNull();
      // Another call with the same lease (its own nonce) is answered as before: the delivery is gone.
      await expect(backend.complete(queue, lease, 2)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
      await backend.close();
    });
  }
});
