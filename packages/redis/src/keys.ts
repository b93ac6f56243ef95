/**
 * Key names. Every key of a queue carries the queue in a hash tag (`skq:{demo}:…`), so a queue
 * lives in one Redis Cluster slot and its Lua scripts can touch all of its keys.
 */
export interface QueueKeys {
  /** The prefix every key and channel of the queue starts with; scripts build per-job keys from it. */
  prefix: string;
  seq: string;
  /** Which layout the queue's keys are in (see scripts/migrate.ts). */
  layout: string;
  /** The hash of job records (a job with its first delivery), by job id. */
  jobRecords: string;
  counts: string;
  active: string;
  workers: string;
  schedules: string;
  schedule(id: string): string;
  /** The list of a route's due deliveries of priority 0. */
  waiting(route: string): string;
  delayed(route: string): string;
  worker(workerId: string): string;
  /** A worker's hand-off list, where its waiting claim gets what an enqueue claimed for it (scripts/hand-off.ts). */
  handOff(workerId: string): string;
  logs(jobId: string): string;
  channel(type: string): string;
  /** The set of paused routes ('*': the queue). */
  paused: string;
  /** Until when (server ms) someone subscribes to each event type: events nobody hears are not published. */
  listeners: string;
  /** Jobs completed and failed in the minute starting at `minute`. */
  throughput(minute: number): string;
  /** Call records of the queue, or of one name. */
  records(name: string | null): string;
}

export function queueKeys(keyPrefix: string, queue: string): QueueKeys {
  const prefix = `${keyPrefix}:{${queue}}`;
  return {
    prefix,
    seq: `${prefix}:seq`,
    layout: `${prefix}:layout`,
    jobRecords: `${prefix}:job`,
    counts: `${prefix}:counts`,
    active: `${prefix}:active`,
    workers: `${prefix}:workers`,
    schedules: `${prefix}:schedules`,
    schedule: (id) => `${prefix}:sched:${id}`,
    waiting: (route) => `${prefix}:waiting:${route}`,
    delayed: (route) => `${prefix}:delayed:${route}`,
    worker: (workerId) => `${prefix}:worker:${workerId}`,
    handOff: (workerId) => `${prefix}:handoff:${workerId}`,
    logs: (jobId) => `${prefix}:logs:${jobId}`,
    channel: (type) => `${prefix}:ev:${type}`,
    paused: `${prefix}:paused`,
    listeners: `${prefix}:listeners`,
    throughput: (minute) => `${prefix}:tp:${minute}`,
    records: (name) => (name === null ? `${prefix}:records` : `${prefix}:records:${name}`),
  };
}
