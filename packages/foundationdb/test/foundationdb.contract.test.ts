import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster, pack } from '@skq/foundationdb/simulator';
import { runStorageContract } from '@skq/testing';

// The simulator of FDB's client semantics stands in for a cluster: no fdbserver can run here.
const clean = new SimulatedCluster();
// A job is one stored value (`skq, queue, j, jobId`): damage makes all of it unreadable.
const damage = (cluster: SimulatedCluster) => (queue: string, jobId: string) => cluster.open().transact(async (tr) => tr.set(pack(['skq', queue, 'j', jobId]), Buffer.from('{"not json')));
runStorageContract('foundationdb (simulator)', async () => FdbBackend.onDatabase(clean.open()), { damage: damage(clean), rerunsTransactions: true });

// The same contract with faults on a fixed seed: 5 % of commits fail with not_committed and 2 %
// with commit_unknown_result (half of those applied). Every transaction must still do its work once.
const faulty = new SimulatedCluster({ seed: 20_261_123, conflictRate: 0.05, unknownResultRate: 0.02 });
runStorageContract('foundationdb (simulator, 5% conflicts, 2% commit_unknown_result)', async () => FdbBackend.onDatabase(faulty.open()), { damage: damage(faulty), rerunsTransactions: true });
