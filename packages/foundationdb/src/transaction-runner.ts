import { randomUUID } from 'node:crypto';
import { minuteOf } from '@skq/core/backend';
import { closedError, mapFdbError } from './fdb-errors.js';
import type { KvDatabase, KvTransaction } from './kv/port.js';
import { unpack } from './kv/tuple.js';
import { QueueKeys, directoryKey, directoryRange } from './queue/keys.js';
import { QueueTransaction } from './queue/queue-transaction.js';
import { decode, encode } from './queue/records.js';

/**
 * Runs the backend's transactions: each through the port's retry loop with what it throws mapped,
 * on one queue's keys, refused once the backend is closed. Also keeps the directory of queue names.
 */
export class TransactionRunner {
  closed = false;
  private readonly keysByQueue = new Map<string, QueueKeys>();
  private readonly listed = new Set<string>();

  constructor(
    readonly db: KvDatabase,
    private readonly prefix: string,
  ) {}

  /** Runs one transaction through the port's retry loop, mapping what it throws. */
  async transact<T>(operation: string, queue: string, body: (tr: KvTransaction) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(operation, queue);
    try {
      return await this.db.transact(body);
    } catch (err) {
      throw mapFdbError(err, operation, { queue });
    }
  }

  /**
   * A transaction made idempotent by a marker: its result is stored under a nonce in the same
   * commit, so a retry after commit_unknown_result finds the marker and returns that result
   * instead of running again. Markers are swept after ten minutes.
   */
  async marked<T>(operation: string, queue: string, body: (qt: QueueTransaction) => Promise<T>): Promise<T> {
    const nonce = randomUUID();
    const minute = minuteOf(Date.now());
    return this.transact(operation, queue, async (tr) => {
      const qt = this.qt(tr, queue);
      const marker = qt.keys.key('tx', minute, nonce);
      const done = await tr.get(marker);
      if (done) return decode<{ result: T }>(done).result;
      const result = await body(qt);
      qt.flushEvents();
      tr.set(marker, encode({ result: result ?? null }));
      return result;
    });
  }

  qt(tr: KvTransaction, queue: string, now?: number): QueueTransaction {
    return new QueueTransaction(tr, this.keys(queue), now ?? Date.now());
  }

  keys(queue: string): QueueKeys {
    let keys = this.keysByQueue.get(queue);
    if (!keys) this.keysByQueue.set(queue, (keys = new QueueKeys(this.prefix, queue)));
    return keys;
  }

  /** Names a queue in the directory, once per process (a blind write: it conflicts with nothing). */
  addToDirectory(tr: KvTransaction, queue: string): void {
    if (!this.listed.has(queue)) tr.set(directoryKey(this.prefix, queue), Buffer.alloc(0));
  }

  listedAfterCommit(queues: string[]): void {
    for (const queue of queues) this.listed.add(queue);
  }

  async listQueues(): Promise<string[]> {
    return this.transact('listQueues', '', async (tr) => {
      const rows = await tr.snapshot.getRange(...directoryRange(this.prefix));
      return rows.map(([key]) => unpack(key).slice(-1)[0] as string).sort();
    });
  }
}
