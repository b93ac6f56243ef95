export { runStorageContract, type BackendFactory } from './storage-contract.js';
export { eventually, newJob, recordEvents, sleep, tempSqlite, uniqueQueue } from './contract-fixtures.js';
export { freePort, hasProgram, missingServer, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './servers.js';
