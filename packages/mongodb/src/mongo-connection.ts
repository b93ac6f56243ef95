import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import type { LogMeta, Logger } from '@skq/core';
import { collectionsOf, type Collections } from './collections.js';
import { isSelectionFailure, neverSent } from './mongo-errors.js';

/**
 * Server-selection failures in a row, with no call succeeding in between, after which the client is
 * replaced (see {@link MongoConnection}).
 */
export const REPLACE_AFTER_FAILURES = 3;

/**
 * The backend's `MongoClient`, replaced when it stops recovering on its own.
 *
 * After a server restart the driver can be left with a server it believes unreachable while its
 * monitor waits on a check that never calls back: every call then fails server selection, for as
 * long as the process lives, while a fresh client would connect at once. So after
 * {@link REPLACE_AFTER_FAILURES} selection failures in a row, the first at least `selectionTimeoutMs`
 * before the last (with the default `connectTimeoutMs` of 10 s: about 30 s of calls that all failed),
 * a fresh client is connected, one attempt per `selectionTimeoutMs` until one connects or the old
 * client serves a call again. The fresh client then takes over and the old one is closed. The
 * collections object is updated in place and {@link MongoConnection.db} follows the current client:
 * whatever reads a collection through them at each call (the operations, the event feed, a
 * `CappedQueue` given the backend) uses the new client from its next call on, while
 * a collection or `Db` kept from before belongs to the closed client. A change stream or cursor of
 * the old client fails when it closes and is reopened on the new one.
 */
export class MongoConnection {
  /** The collections of the current client; updated in place when the client is replaced. */
  readonly c: Collections;
  private current: MongoClient;
  private database: Db;
  /** Bumped on each replacement: a call knows whether the client it started on is still current. */
  private gen = 0;
  private failures = 0;
  private firstFailureAt = 0;
  private replacing: Promise<void> | null = null;
  /** The fresh client being connected, closed with the connection. */
  private candidate: MongoClient | null = null;
  /** Ends the pause between two connection attempts early: close() calls it. */
  private endPause: (() => void) | null = null;
  private closed = false;

  constructor(
    client: MongoClient,
    private readonly url: string,
    private readonly options: MongoClientOptions,
    private readonly databaseName: string,
    private readonly prefix: string,
    private readonly selectionTimeoutMs: number,
    private readonly logger: Logger | false,
  ) {
    this.current = client;
    this.database = client.db(databaseName);
    this.c = collectionsOf(this.database, prefix);
  }

  get db(): Db {
    return this.database;
  }

  get generation(): number {
    return this.gen;
  }

  /** A call that started on `generation` succeeded: the client is serving. */
  succeeded(generation: number): void {
    if (generation === this.gen) this.failures = 0;
  }

  /**
   * A call that started on `generation` failed with `err`. Counts selection failures of the current
   * client and starts replacing it once they are many and long enough. Returns whether the call may
   * run again: it was never sent and a newer client is there to run it.
   */
  failed(generation: number, err: unknown): boolean {
    if (this.closed) return false;
    if (generation === this.gen && isSelectionFailure(err)) {
      const now = Date.now();
      if (this.failures === 0) this.firstFailureAt = now;
      this.failures += 1;
      if (this.failures >= REPLACE_AFTER_FAILURES && now - this.firstFailureAt >= this.selectionTimeoutMs && !this.replacing) {
        this.replacing = this.replace(err as Error).finally(() => (this.replacing = null));
      }
    }
    return generation !== this.gen && neverSent(err);
  }

  async close(): Promise<void> {
    this.closed = true;
    // A replacement under way stops now: no pause holds the process open, no further client is tried.
    this.endPause?.();
    await Promise.all([this.current.close().catch(() => {}), this.candidate?.close().catch(() => {})]);
  }

  private async replace(why: Error): Promise<void> {
    this.warn(`mongodb: ${this.failures} server selections in a row failed; connecting a new client`, { failures: this.failures, err: why });
    // Until the old client serves again: a client whose first connect failed stays closed, so each try is a fresh one.
    while (!this.closed && this.failures > 0) {
      const startedAt = Date.now();
      const fresh = (this.candidate = new MongoClient(this.url, this.options));
      try {
        await fresh.connect();
      } catch {
        await fresh.close().catch(() => {});
        // connect() waits out the selection timeout against a silent server; one refused at once waits here.
        if (!this.closed) await this.pause(Math.max(0, this.selectionTimeoutMs - (Date.now() - startedAt)));
        continue;
      } finally {
        this.candidate = null;
      }
      if (this.closed || this.failures === 0) {
        await fresh.close().catch(() => {});
        return;
      }
      const old = this.current;
      this.current = fresh;
      this.database = fresh.db(this.databaseName);
      Object.assign(this.c, collectionsOf(this.database, this.prefix));
      this.gen += 1;
      this.failures = 0;
      this.warn('mongodb: replaced the client that kept failing server selection', {});
      // Calls still waiting on the old client fail now, as never sent, and run again on the new one.
      void old.close().catch(() => {});
      return;
    }
  }

  /** Waits `ms`, or until close(); the timer alone never keeps the process alive. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endPause?.(), ms);
      timer.unref();
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = null;
        resolve();
      };
    });
  }

  private warn(message: string, meta: LogMeta): void {
    if (this.logger !== false) this.logger.warn({ database: this.databaseName, ...meta }, message);
  }
}
