// @skq/foundationdb/simulator: the simulator of FDB's client semantics, for tests. No URL opens it.
export { FDB_LIMITS } from './fdb-limits.js';
export { SimulatedCluster, SimulatedDatabase, type ClusterStats, type FaultOptions } from './simulated-cluster.js';
export { SimulatedTransaction } from './simulated-transaction.js';
export { FdbError, FDB_ERRORS, KeySelectors, isRetryable } from '../kv/port.js';
export { pack, unpack, prefixRange, strinc } from '../kv/tuple.js';
