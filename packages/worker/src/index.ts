export { WorkerPool, GENTLE_SIGNALS, ROUGH_SIGNALS } from './worker-pool.js';
export { WorkerPoolOptionsSchema, type WorkerPoolOptions } from './worker-options.js';
export type { AttemptEnd } from './outcome-writer.js';
