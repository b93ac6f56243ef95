

/**
 * Administration: cancelling, rescheduling, retrying and removing jobs, and pausing routes.
 * What an operator or the monitor does to jobs that already exist.
 *
 * @example
 * ```ts
 * await backend.setPaused('demo', WHOLE_QUEUE, true);
 * ```
 */
export interface AdminStorage {
  /**
   * Cancels a job: its queued deliveries end `cancelled`, running ones get a cancel request
   * (a `cancel-requested` event) that their worker honours. Returns false if nothing was left to cancel.
   */
  cancel(queue: string, jobId: string): Promise<boolean>;

  /** Moves a job's queued deliveries to run at `runAt`. Returns false if none was queued. */
  reschedule(queue: string, jobId: string, runAt: number): Promise<boolean>;

  /**
   * Runs a job's failed and cancelled deliveries again at `runAt`, each with a fresh budget of
   * `attempts`, atomically: of two calls at once, one moves them and the other finds none.
   * Returns how many deliveries it queued.
   */
  retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number>;

  /** Deletes jobs with their deliveries and logs, skipping any with a running delivery. Returns the ids deleted. */
  removeJobs(queue: string, jobIds: string[]): Promise<string[]>;

  /**
   * Pauses or resumes one route, or the whole queue with {@link WHOLE_QUEUE}. A claim that begins after
   * the pause is stored returns nothing, with `paused: true`; one already under way may still finish
   * (its jobs run: nothing is stranded). Enqueue goes on. Publishes `paused` or `resumed`. Returns
   * false when the state was already so.
   */
  setPaused(queue: string, route: string, paused: boolean): Promise<boolean>;

  /** The paused routes of a queue, {@link WHOLE_QUEUE} when the queue itself is. */
  pausedRoutes(queue: string): Promise<string[]>;
}
