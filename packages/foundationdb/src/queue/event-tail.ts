import type { JobEvent, JobEventType } from '@skq/core';
import type { JobEventListener } from '@skq/core/backend';
import type { KvDatabase } from '../kv/port.js';
import type { QueueKeys } from './keys.js';
import { decode } from './records.js';

/** Events read per range read. */
const PAGE = 500;
/** Watches can be missed (a reconnect, a cancelled watch): the tail also looks every so often. */
const FALLBACK_POLL_MS = 1_000;

interface Listener {
  fn: JobEventListener;
  types: ReadonlySet<JobEventType> | null;
}

/**
 * Follows one queue's events: reads the event range past the last key it delivered, then waits on
 * a watch of the key every event bumps (atomic add). Events are numbered in the order this process
 * reads them, which is their commit order.
 */
export class EventTail {
  private readonly listeners = new Set<Listener>();
  private cursor: Buffer | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly db: KvDatabase,
    private readonly keys: QueueKeys,
    private readonly nextSeq: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Adds a listener for events committed after this call resolves. */
  async add(fn: JobEventListener, types?: readonly JobEventType[]): Promise<() => void> {
    if (this.cursor === null) {
      const [begin, end] = this.keys.range('ev');
      const last = await this.db.transact(async (tr) => tr.snapshot.getRange(begin, end, { limit: 1, reverse: true }));
      this.cursor = last[0]?.[0] ?? begin;
    }
    const listener: Listener = { fn, types: types ? new Set(types) : null };
    this.listeners.add(listener);
    this.running ??= this.loop();
    return () => {
      this.listeners.delete(listener);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running?.catch(() => {});
  }

  private async loop(): Promise<void> {
    const [, end] = this.keys.range('ev');
    while (!this.stopped) {
      try {
        const { rows, watch } = await this.db.transact(async (tr) => {
          const after = Buffer.concat([this.cursor!, Buffer.from([0x00])]);
          const page = await tr.snapshot.getRange(after, end, { limit: PAGE });
          // Nothing new: watch the bump key, read in the same transaction, so no commit slips between.
          if (page.length === 0) await tr.get(this.keys.wakeup());
          return { rows: page, watch: page.length === 0 ? tr.watch(this.keys.wakeup()) : null };
        });
        for (const [key, value] of rows) {
          this.cursor = key;
          const event = { ...decode<Omit<JobEvent, 'seq'>>(value), seq: this.nextSeq() };
          for (const l of this.listeners) {
            if (l.types && !l.types.has(event.type)) continue;
            try {
              l.fn(event);
            } catch {
              // A listener's failure is its own.
            }
          }
        }
        if (watch) await this.wait(watch.changed, () => watch.cancel());
      } catch (err) {
        this.onError(err);
        await this.wait(new Promise(() => {}), () => {});
      }
    }
  }

  private wait(changed: Promise<boolean>, cancel: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, FALLBACK_POLL_MS);
      this.wake = done;
      changed.then(done, done);
      function done() {
        clearTimeout(timer);
        cancel();
        resolve();
      }
    });
  }
}
