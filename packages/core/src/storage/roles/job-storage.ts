import type { EnqueueOptions, EnqueueResult, JobRecord, ListJobsQuery, NewJob, StateCounts, StateListPage, StateListQuery } from '../contract.js';

/**
 * Jobs and their deliveries: storing, reading and listing them.
 * Every call names its queue, so a backend can keep each queue apart.
 *
 * @example
 * ```ts
 * const [stored] = await backend.enqueue([job]);
 * const record = await backend.getJob('demo', stored!.id);
 * ```
 */
export interface JobStorage {
  /**
   * Stores jobs, each with its deliveries, in one batch. Delayed jobs (runAt in the future) are
   * stored `scheduled`. Broadcast jobs get one delivery per route and per worker registered on it
   * and alive at this instant. A pending job with the same `dedupeKey` in the queue is returned instead.
   * `options.transaction` is only given to a store with `capabilities.transactionalEnqueue`.
   */
  enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<EnqueueResult[]>;

  /** A job of the queue with its deliveries, or null (also when the id belongs to another queue). */
  getJob(queue: string, jobId: string): Promise<JobRecord | null>;

  /**
   * Up to `limit` jobs of a queue in listing order (newest first: creation time, then id, both
   * descending), starting after `after`. Keyset paging: jobs added meanwhile never shift a page.
   * Every store with `capabilities.listing` `'by-creation'` (the default) has it.
   */
  listJobs?(query: ListJobsQuery): Promise<JobRecord[]>;

  /**
   * Up to `limit` jobs from the index of one state, in that state's order, from `cursor`. Stores with
   * `capabilities.listing` `'by-state'` have it; core's listing filters what it returns.
   */
  listJobsInState?(query: StateListQuery): Promise<StateListPage>;

  /** Delivery counts per route and state. */
  countByState(queue: string): Promise<StateCounts>;

  /** The names of the queues that hold jobs, workers or schedules in this store, sorted (a monitor's directory). */
  listQueues(): Promise<string[]>;
}
