import type { JobEventType } from './job-events.js';

/**
 * How long a subscription's word that it hears some event types holds, and how often it is said again.
 * A store that publishes only the types someone hears stops paying for a subscriber that went away
 * without a word at most this long after.
 */
export const EVENT_INTEREST_MS = 30_000;
const RENEW_MS = EVENT_INTEREST_MS / 3;

/**
 * Says, in the store, which event types of a queue this process's subscriptions hear: before a
 * subscription starts (so no event published after it is skipped for want of a listener), and again
 * every 10 s while one is open. The store keeps each type heard until the latest time it was told;
 * its writers publish a type only while that time is ahead (Redis's scripts, PostgreSQL's statements).
 *
 * @example
 * ```ts
 * const interest = new EventInterest((queue, types, forMs) => store.hear(queue, types, forMs));
 * const stop = await interest.subscribe('demo', ['succeeded'], () => channel.subscribe('demo', listener));
 * await stop();
 * ```
 */
export class EventInterest {
  /** Subscriptions open now, by queue: how many hear each type. */
  private readonly heard = new Map<string, Map<JobEventType, number>>();
  private renewal: NodeJS.Timeout | null = null;

  /** `announce` tells the store that `types` of `queue` are heard for `forMs` from now. */
  constructor(private readonly announce: (queue: string, types: readonly JobEventType[], forMs: number) => Promise<unknown>) {}

  /**
   * Announces `types`, then runs `start` (the subscription itself), and renews the announcement until
   * the returned function, which stops the subscription (once, however often it is called), is called.
   */
  async subscribe(queue: string, types: readonly JobEventType[], start: () => Promise<() => unknown>): Promise<() => Promise<void>> {
    await this.announce(queue, types, EVENT_INTEREST_MS);
    const stop = await start();
    this.hold(queue, types, 1);
    let open = true;
    return async () => {
      // Once: a second call must not stop the renewals another subscription of these types needs.
      if (!open) return;
      open = false;
      this.hold(queue, types, -1);
      await stop();
    };
  }

  /** Stops renewing: the store forgets these subscriptions' types within {@link EVENT_INTEREST_MS}. */
  close(): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = null;
    this.heard.clear();
  }

  private hold(queue: string, types: readonly JobEventType[], delta: 1 | -1): void {
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
    for (const [queue, counts] of this.heard) {
      const types = [...counts.keys()];
      // A store closed meanwhile may refuse at once, or throw: either way, the next turn tries again.
      void Promise.resolve()
        .then(() => this.announce(queue, types, EVENT_INTEREST_MS))
        .catch(() => undefined);
    }
  }
}
