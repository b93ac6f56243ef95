// The contract on a real FoundationDB cluster. It runs when FDB_CLUSTER_FILE names a cluster file
// and the foundationdb binding loads (libfdb_c installed); otherwise it says why in one line and
// skips: no fdbserver can run on skunq's CI machines, so this suite has not run there.
// To run it: docker compose up -d foundationdb, then follow the README's FoundationDB steps.
import { describe, it } from 'vitest';
import { FdbBackend } from '@skq/foundationdb';
import { pack } from '@skq/foundationdb/simulator';
import { runStorageContract, type ContractOptions } from '@skq/testing';
import { loadBinding, openFoundationDb } from '../src/kv/foundationdb-binding.js';

const clusterFile = process.env.FDB_CLUSTER_FILE;
const reason = !clusterFile
  ? 'FDB_CLUSTER_FILE is not set'
  : await loadBinding().then(
      () => null,
      (err: Error) => err.message,
    );
const prefix = `skq_test_${process.pid}`;

if (reason === null) {
  // The same options as the simulator suites: a job is one stored value (`prefix, queue, j, jobId`), which damage makes unreadable.
  const options: ContractOptions = {
    damage: async (queue, jobId) => {
      const db = await openFoundationDb({ clusterFile, apiVersion: 720 });
      try {
        await db.transact(async (tr) => tr.set(pack([prefix, queue, 'j', jobId]), Buffer.from('{"not json')));
      } finally {
        await db.close();
      }
    },
  };
  runStorageContract(`foundationdb (real cluster at ${clusterFile})`, () => FdbBackend.connect({ clusterFile, prefix }), options);
} else {
  console.log(`foundationdb real-cluster suite skipped: ${reason}`);
  describe.skip(`foundationdb (real cluster): skipped, ${reason}`, () => {
    it('runs the storage contract on a real cluster', () => {});
  });
}
