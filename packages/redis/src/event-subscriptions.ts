import type { Cluster, Redis } from 'ioredis';
import { type JobEvent } from '@skq/core';
import { JOB_EVENT_TYPES, type JobEventListener } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { EventChannel } from './event-channel.js';
import { mapRedisError } from './redis-errors.js';
import { waitReady } from './redis-connection.js';

/**
 * The backend's subscriptions: pub/sub needs a connection of its own, opened on the first
 * subscription and shared by all (see {@link EventChannel}).
 */
export class EventSubscriptions {
  private events: EventChannel | null = null;
  private subscriber: Redis | Cluster | null = null;

  constructor(private readonly runner: CommandRunner) {}

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    const events = await this.eventChannel();
    try {
      return await events.subscribe(queue, types ?? JOB_EVENT_TYPES, listener);
    } catch (err) {
      throw mapRedisError(err, 'subscribe', { queue });
    }
  }

  /** No listener hears anything more, and the subscriber connection is dropped. */
  close(): void {
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
