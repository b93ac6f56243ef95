import type { Cluster, Redis } from 'ioredis';
import type { JobEvent } from '@skq/core';
import type { JobEventListener } from '@skq/core/backend';

interface Listener {
  queue: string;
  fn: JobEventListener;
}

/**
 * Lifecycle events over Redis pub/sub: one channel per queue and event type, so a worker pool
 * hears only wake-ups and a result waiter only endings. One subscriber connection serves all.
 */
export class EventChannel {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly subscriber: Redis | Cluster,
    private readonly channelOf: (queue: string, type: JobEvent['type']) => string,
  ) {
    subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
  }

  async subscribe(queue: string, types: readonly JobEvent['type'][], fn: JobEventListener): Promise<() => Promise<void>> {
    const listener: Listener = { queue, fn };
    const channels = types.map((type) => this.channelOf(queue, type));
    const fresh: string[] = [];
    for (const channel of channels) {
      let set = this.listeners.get(channel);
      if (!set) {
        this.listeners.set(channel, (set = new Set()));
        fresh.push(channel);
      }
      set.add(listener);
    }
    if (fresh.length) await this.subscriber.subscribe(...fresh);
    return async () => {
      const idle: string[] = [];
      for (const channel of channels) {
        const set = this.listeners.get(channel);
        set?.delete(listener);
        if (set && set.size === 0) {
          this.listeners.delete(channel);
          idle.push(channel);
        }
      }
      if (idle.length && this.subscriber.status === 'ready') await this.subscriber.unsubscribe(...idle).catch(() => undefined);
    };
  }

  /** No listener hears anything more: messages the connection had already read are dropped. */
  close(): void {
    this.listeners.clear();
  }

  private dispatch(channel: string, message: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    const type = channel.slice(channel.lastIndexOf(':ev:') + 4) as JobEvent['type'];
    // A message holds every event of its type from one script call, a line each.
    for (const line of message.split('\n')) this.deliver(set, type, line);
  }

  private deliver(set: Set<Listener>, type: JobEvent['type'], line: string): void {
    // seq|jobId|deliveryId|route|worker|at[|data]: data is JSON and may itself hold '|'; the ids come
    // with '|', line ends and '%' written %XX (the scripts' escId).
    const parts = line.split('|');
    const [seq, rawJobId, rawDeliveryId, route, workerId, at] = parts;
    const jobId = unescapeId(rawJobId);
    const deliveryId = unescapeId(rawDeliveryId);
    const data = parts.length > 6 ? (JSON.parse(parts.slice(6).join('|')) as unknown) : undefined;
    for (const listener of set) {
      const event: JobEvent = {
        seq: Number(seq),
        type,
        queue: listener.queue,
        jobId: jobId || null,
        deliveryId: deliveryId || null,
        route: route || null,
        workerId: workerId || null,
        at: Number(at),
        ...(data !== undefined && { data }),
      };
      try {
        listener.fn(event);
      } catch {
        // One listener's failure must not starve the others.
      }
    }
  }
}

/** An id as the scripts wrote it into an event line (see `escId` in scripts/common.ts). */
function unescapeId(text: string | undefined): string | undefined {
  return text?.includes('%') ? text.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) : text;
}
