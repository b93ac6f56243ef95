export { runStorageContract } from './storage-contract.js';
export type { BackendFactory, ContractOptions } from './contract-options.js';
export { eventually, newJob, recordEvents, sleep, tempSqlite, uniqueQueue } from './contract-fixtures.js';
export { fireThroughRestart, type RestartLoad, type RestartLoadOptions } from './restart-under-load.js';
export { freePort, hasProgram, missingServer, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './servers.js';
export { MONGO_SERVER_FEATURES, missingMongoServer, mongoServerName, startMongoServer, type MongoServerFeatures, type MongoServerKind, type MongoTestServer } from './mongo-servers.js';
export { REPO, runCliProcess, startCli, stopAll, type CliProcess } from './cli-process.js';
export { startStallingProxy, type StallingProxy } from './stalling-proxy.js';
export { CHROMIUM_PATH, launchChromium, missingChromium } from './browser.js';
