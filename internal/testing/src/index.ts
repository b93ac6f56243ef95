export { runStorageContract, type BackendFactory } from './storage-contract.js';
export { eventually, newJob, recordEvents, sleep, uniqueQueue } from './contract-fixtures.js';
