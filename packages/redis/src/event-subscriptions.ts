import type { Cluster, Redis } from 'ioredis';
import { type JobEvent } from '@skq/core';
import { JOB_EVENT_TYPES, type JobEventListener } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { EventChannel } from './event-channel.js';
import { mapRedisError } from './redis-errors.js';
import { waitReady } from './redis-connection.js';
import { Script } from './script-runner.js';

const LISTEN = new Script('listen');

/**
 * How long a subscription says it listens for, and how often it says so again: the scripts publish
 * only the event types someone listens to, so a subscriber that went away without a word stops
 * costing events at most this long after.
 */
const LISTEN_MS = 30_000;
const RENEW_MS = LISTEN_MS / 3;

/**
 * The backend's subscriptions: pub/sub needs a connection of its own, opened on the first
 * subscription and shared by all (see {@link EventChannel}). Each subscription also says, in the
 * queue's 'listeners' hash, which event types it hears, before it subscribes, and again every 10 s.
 */
export class EventSubscriptions {
  private events: EventChannel | null = null;
  private subscriber: Redis | Cluster | null = null;
  /** Subscriptions open now, by queue: how many hear each type. */
  private readonly heard = new Map<string, Map<JobEvent['type'], number>>();
  private renewal: NodeJS.Timeout | null = null;

  constructor(private readonly runner: CommandRunner) {}

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    const wanted = types ?? JOB_EVENT_TYPES;
    const events = await this.eventChannel();
    try {
      // Said before the subscription starts, so no event published after it is skipped for want of a listener.
      await this.listen(queue, wanted);
      const unsubscribe = await events.subscribe(queue, wanted, listener);
      this.hold(queue, wanted, 1);
      let open = true;
      return async () => {
        // Once: a second call must not stop the renewals another subscription of these types needs.
        if (!open) return;
        open = false;
        this.hold(queue, wanted, -1);
        await unsubscribe();
      };
    } catch (err) {
      throw mapRedisError(err, 'subscribe', { queue });
    }
  }

  /** No listener hears anything more, and the subscriber connection is dropped. */
  close(): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = null;
    this.heard.clear();
    this.events?.close();
    this.subscriber?.disconnect();
  }

  private listen(queue: string, types: readonly JobEvent['type'][]): Promise<unknown> {
    return this.runner.run('subscribe', queue, LISTEN, this.runner.keys(queue).listeners, [LISTEN_MS, ...types]);
  }

  /** Counts the types a subscription of `queue` hears in (delta 1) or out (-1); renewals run while any is heard. */
  private hold(queue: string, types: readonly JobEvent['type'][], delta: 1 | -1): void {
    let counts = this.heard.get(queue);
    if (!counts) this.heard.set(queue, (counts = new Map()));
    for (const type of types) {
      const n = (counts.get(type) ?? 0) + delta;
      if (n > 0) counts.set(type, n);
      else counts.delete(type);
    }
    if (counts.size === 0) this.heard.delete(queue);
    if (this.heard.size > 0 && !this.renewal) {
      this.renewal = setInterval(() => this.renew(), RENEW_MS);
      this.renewal.unref();
    } else if (this.heard.size === 0 && this.renewal) {
      clearInterval(this.renewal);
      this.renewal = null;
    }
  }

  /** Says again what every open subscription hears; one that fails is said again on the next turn. */
  private renew(): void {
    if (this.runner.closed) return;
    for (const [queue, counts] of this.heard) void this.listen(queue, [...counts.keys()]).catch(() => undefined);
  }

  private async eventChannel(): Promise<EventChannel> {
    if (this.events) return this.events;
    const subscriber = this.runner.client.duplicate();
    subscriber.on('error', () => undefined);
    this.subscriber = subscriber;
    this.events = new EventChannel(subscriber, (queue, type) => this.runner.keys(queue).channel(type));
    await waitReady(subscriber, this.runner.options.connectTimeoutMs, 'subscribe');
    return this.events;
  }
}
