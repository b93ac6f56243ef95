import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { JOB_EVENT_TYPES, type JobEvent, type JobEventType } from '../storage/contract.js';
import type { EventStorage } from '../storage/roles/event-storage.js';

const EventTypesSchema = z.array(z.enum(JOB_EVENT_TYPES as [JobEventType, ...JobEventType[]])).min(1);

/** Options of `queue.events()`. */
export const EventStreamOptionsSchema = z
  .object({
    /** Only these event types. Default: all. */
    types: EventTypesSchema.optional(),
    /** Ends the stream when aborted. */
    signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'must be an AbortSignal').optional(),
    /** Events held for a slow reader before the oldest are dropped. Default 10,000. */
    bufferSize: z.number().int().positive().default(10_000),
  })
  .strict();

/**
 * `{ types?, signal?, bufferSize? }` for `queue.events()`.
 *
 * @example
 * ```ts
 * const options: EventStreamOptions = { types: ['failed'], signal: AbortSignal.timeout(60_000), bufferSize: 1_000 };
 * for await (const e of queue.events(options)) console.log('failed:', e.jobId);
 * ```
 */
export type EventStreamOptions = z.input<typeof EventStreamOptionsSchema>;

/**
 * A queue's events for listeners in this process, over one backend subscription per queue object.
 * Best effort, as `subscribe` is: a listener may miss events while the backend is unreachable.
 */
export class QueueEvents {
  private readonly listeners = new Map<JobEventType, Set<(event: JobEvent) => void>>();
  private subscription: Promise<() => Promise<void>> | null = null;

  constructor(
    private readonly queue: string,
    private readonly backend: () => Promise<EventStorage>,
  ) {}

  /** Calls `fn` with each event of `type`; resolves to a function that removes the listener once subscribed. */
  async on(type: JobEventType, fn: (event: JobEvent) => void): Promise<() => Promise<void>> {
    const parsed = safeParseInput(z.enum(JOB_EVENT_TYPES as [JobEventType, ...JobEventType[]]), type);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid event type: ${describeIssues(parsed.error.issues, 'type')}`, { context: { queue: this.queue, field: 'type' } });
    if (typeof fn !== 'function') throw new SkqError('ARGS_INVALID', 'on() takes a listener function', { context: { queue: this.queue, field: 'fn' } });
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn);
    try {
      await this.subscribed();
    } catch (err) {
      set.delete(fn);
      throw err;
    }
    return async () => {
      set.delete(fn);
      if ([...this.listeners.values()].every((s) => s.size === 0)) await this.close();
    };
  }

  /** An async iterator of events; ends when `signal` aborts or the loop breaks. */
  async *stream(options: EventStreamOptions = {}): AsyncGenerator<JobEvent> {
    const parsed = safeParseInput(EventStreamOptionsSchema, options);
    if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid events() options: ${describeIssues(parsed.error.issues, 'options')}`, { context: { queue: this.queue } });
    const { types, signal, bufferSize } = parsed.data;
    const buffer: JobEvent[] = [];
    let wake: (() => void) | null = null;
    const push = (event: JobEvent) => {
      if (buffer.length >= bufferSize) buffer.shift();
      buffer.push(event);
      wake?.();
    };
    const backend = await this.backend();
    const unsubscribe = await backend.subscribe(this.queue, push, types);
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        const next = buffer.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await unsubscribe();
    }
  }

  /** Drops the backend subscription. */
  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription) await (await subscription.catch(() => null))?.();
  }

  private subscribed(): Promise<() => Promise<void>> {
    if (!this.subscription) {
      const subscription = this.backend().then((backend) => backend.subscribe(this.queue, (event) => this.dispatch(event)));
      this.subscription = subscription;
      subscription.catch(() => {
        if (this.subscription === subscription) this.subscription = null;
      });
    }
    return this.subscription;
  }

  private dispatch(event: JobEvent): void {
    for (const fn of this.listeners.get(event.type) ?? []) {
      try {
        fn(event);
      } catch {
        // A listener's error must not stop the others.
      }
    }
  }
}
