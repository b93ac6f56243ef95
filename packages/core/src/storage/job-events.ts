// Lifecycle events of jobs, as backends publish them.

/**
 * Lifecycle events, in the order a job goes through them.
 *
 * @example
 * ```ts
 * const endings: JobEventType[] = ['succeeded', 'failed', 'cancelled'];
 * const unsubscribe = await backend.subscribe('demo', (event) => console.log(event.type, event.jobId), endings);
 * ```
 */
export type JobEventType =
  | 'enqueued'
  | 'started'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'cancel-requested'
  | 'rescheduled'
  | 'recovered'
  | 'progress'
  | 'removed'
  | 'paused'
  | 'resumed'
  | 'worker-command';

/**
 * Every event type.
 *
 * @example
 * ```ts
 * for await (const e of queue.events({ types: JOB_EVENT_TYPES.filter((t) => t !== 'progress') })) console.log(e.type);
 * ```
 */
export const JOB_EVENT_TYPES: readonly JobEventType[] = [
  'enqueued', 'started', 'retrying', 'succeeded', 'failed', 'cancelled', 'cancel-requested', 'rescheduled', 'recovered',
  'progress', 'removed', 'paused', 'resumed', 'worker-command',
];

/**
 * A lifecycle event. `seq` grows with each event a backend records. Job events name their job;
 * `paused` and `resumed` name a route ({@link WHOLE_QUEUE} for the queue) and `worker-command` a worker.
 *
 * @example
 * ```ts
 * const event: JobEvent = { seq: 7, type: 'started', queue: 'demo', jobId: 'j1', deliveryId: 'j1.0', route: 'foo', workerId: 'w1', at: Date.now() };
 * const resumed: JobEvent = { seq: 8, type: 'resumed', queue: 'demo', jobId: null, deliveryId: null, route: WHOLE_QUEUE, workerId: null, at: Date.now() };
 * ```
 */
export interface JobEvent {
  seq: number;
  type: JobEventType;
  queue: string;
  /** The job, or null for a queue or worker event. */
  jobId: string | null;
  deliveryId: string | null;
  route: string | null;
  workerId: string | null;
  at: number;
  /** `progress`: the value reported; `worker-command`: the command's id. Else absent. */
  data?: unknown;
}

/**
 * A listener for {@link StorageBackend.subscribe}.
 *
 * @example
 * ```ts
 * const listeners = new Set<JobEventListener>(); // subscribe adds one; its unsubscribe function deletes it
 * for (const listener of listeners) listener(event);
 * ```
 */
export type JobEventListener = (event: JobEvent) => void;

/**
 * The route name that stands for a whole queue in pause state and in `paused`/`resumed` events.
 *
 * @example
 * ```ts
 * await backend.setPaused('demo', WHOLE_QUEUE, true); // what queue.pause() does
 * ```
 */
export const WHOLE_QUEUE = '*';
