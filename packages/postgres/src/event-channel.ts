import type pg from 'pg';
import type { JobEvent } from '@skq/core';
import type { JobEventListener } from '@skq/core/backend';
import { decodeEvents } from './event-payload.js';
import { quoteIdentifier } from './sql-text.js';

interface Subscription {
  queue: string;
  types: ReadonlySet<JobEvent['type']> | null;
  listener: JobEventListener;
}

/** Reconnecting after a lost connection waits this long at first, doubling up to the second figure. */
const RECONNECT_MS = [100, 5_000] as const;

/**
 * Events from every process, through one LISTEN connection per backend (not taken from the pool,
 * which it would hold for good). Writers NOTIFY a transaction's events as it commits, so listeners
 * hear them in commit order, and only if it committed.
 *
 * Delivery is best effort, as the contract allows: while the connection is down (a server restart,
 * a killed backend) events are missed, and it reconnects with a backoff. Workers and waiters also
 * read state on their own timer, which covers what was missed. A pooler in transaction mode
 * (PgBouncer) cannot LISTEN: give the backend a direct `listenUrl`, or rely on that polling.
 */
export class EventChannel {
  private readonly subscriptions = new Set<Subscription>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly newClient: () => pg.Client,
    private readonly channel: string,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  /** Starts delivering the queue's events (of `types`, when given) to `listener`; resolves once the channel listens. */
  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => void> {
    const subscription: Subscription = { queue, listener, types: types ? new Set(types) : null };
    this.subscriptions.add(subscription);
    try {
      await this.listening();
    } catch (err) {
      this.subscriptions.delete(subscription);
      throw err;
    }
    return () => void this.subscriptions.delete(subscription);
  }

  /** Stops delivering and closes the connection; once resolved, no listener is called again. */
  async close(): Promise<void> {
    this.closed = true;
    this.subscriptions.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await this.connecting?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  private listening(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = this.newClient();
    // A connection lost later is reported through 'error' and 'end': reconnect, unless closed.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload && client === this.client) this.deliver(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (client !== this.client || this.closed) return;
    this.client = null;
    if (err) this.warn('the event connection was lost; reconnecting (events until then are missed)', err);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.min(RECONNECT_MS[1], RECONNECT_MS[0] * 2 ** Math.min(this.failures, 10));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listening().catch((err: unknown) => {
        this.failures += 1;
        if (this.failures === 1) this.warn('could not reconnect the event connection; trying again', err);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private deliver(payload: string): void {
    for (const event of decodeEvents(payload)) {
      for (const subscription of this.subscriptions) {
        if (subscription.queue !== event.queue || (subscription.types && !subscription.types.has(event.type))) continue;
        try {
          subscription.listener(event);
        } catch {
          // A listener's failure must not starve the other subscribers.
        }
      }
    }
  }
}
