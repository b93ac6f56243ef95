import type { Cluster, Redis } from 'ioredis';
import { type JobEvent } from '@skq/core';
import { EventInterest, JOB_EVENT_TYPES, type JobEventListener } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { EventChannel } from './event-channel.js';
import { mapRedisError } from './redis-errors.js';
import { waitReady } from './redis-connection.js';
import { Script } from './script-runner.js';

const LISTEN = new Script('listen');

/**
 * The backend's subscriptions: pub/sub needs a connection of its own, opened on the first
 * subscription and shared by all (see {@link EventChannel}). Each subscription also says, in the
 * queue's 'listeners' hash, which event types it hears (core's {@link EventInterest}): the scripts
 * publish only those.
 */
export class EventSubscriptions {
  private events: EventChannel | null = null;
  private subscriber: Redis | Cluster | null = null;
  private readonly interest = new EventInterest((queue, types, forMs) => this.runner.run('subscribe', queue, LISTEN, this.runner.keys(queue).listeners, [forMs, ...types]));

  constructor(private readonly runner: CommandRunner) {}

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    const wanted = types ?? JOB_EVENT_TYPES;
    const events = await this.eventChannel();
    try {
      return await this.interest.subscribe(queue, wanted, () => events.subscribe(queue, wanted, listener));
    } catch (err) {
      throw mapRedisError(err, 'subscribe', { queue });
    }
  }

  /** No listener hears anything more, and the subscriber connection is dropped. */
  close(): void {
    this.interest.close();
    this.events?.close();
    this.subscriber?.disconnect();
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
