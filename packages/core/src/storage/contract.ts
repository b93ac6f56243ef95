/**
 * The storage contract: what a backend must do for skunq, in queue terms.
 *
 * A *job* is what a producer fires. It is delivered once per route (direct queues) or
 * once per listening worker of each route (broadcast queues); each of those is a
 * *delivery*, the unit that is claimed, leased, retried and completed.
 */
export * from './job-records.js';
export * from './worker-records.js';
export * from './job-events.js';
export * from './storage-requests.js';
export * from './schedule-records.js';
export * from './group-records.js';
