import type { Cluster, Redis } from 'ioredis';
import { SkqError } from '@skq/core';
import { queueKeys, type QueueKeys } from './keys.js';
import { mapRedisError } from './redis-errors.js';
import { retentionArgs, type ParsedRedisOptions } from './redis-options.js';
import { Script } from './script-runner.js';

const MIGRATE = new Script('migrate');

/**
 * Runs the backend's calls to Redis: scripts with the arguments every script takes first (the
 * queue's prefix, the clock, the backend's retention), and plain commands, each with what it throws
 * mapped and refused once the backend is closed. Also keeps the directory of queue names.
 */
export class CommandRunner {
  closed = false;
  private readonly keysByQueue = new Map<string, QueueKeys>();
  private readonly retention: string[];
  /** Queues this process has seen in the current layout, or is moving to it. */
  private readonly layoutChecks = new Map<string, Promise<void>>();
  /** Queues this process has added to the directory set, so each costs one SADD per process. */
  private readonly listedQueues = new Set<string>();

  constructor(
    readonly client: Redis | Cluster,
    readonly options: ParsedRedisOptions,
  ) {
    this.retention = [...retentionArgs(options.removeOnComplete), ...retentionArgs(options.removeOnFail)].map(String);
  }

  keys(queue: string): QueueKeys {
    let keys = this.keysByQueue.get(queue);
    if (!keys) this.keysByQueue.set(queue, (keys = queueKeys(this.options.keyPrefix, queue)));
    return keys;
  }

  run(operation: string, queue: string, script: Script, key: string, args: (string | number)[], now?: number): Promise<unknown> {
    const send = () => script.run(this.client, key, [this.keys(queue).prefix, now === undefined ? '' : Math.round(now), ...this.retention, ...args]);
    const layout = this.layoutChecks.get(queue);
    if (layout === READY) return this.call(operation, queue, send);
    return this.call(operation, queue, async () => {
      await this.ensureLayout(queue);
      return send();
    });
  }

  /**
   * Before a queue's first script in this process: a queue stored in an older layout is moved to the
   * current one (a batch per call, so Redis is never blocked for long); one call for a queue already in it.
   */
  private ensureLayout(queue: string): Promise<void> {
    let check = this.layoutChecks.get(queue);
    if (!check) {
      const args = [this.keys(queue).prefix, '', ...this.retention];
      check = (async () => {
        // Each call moves a batch, until the queue is in the current layout.
        let current = false;
        while (!current) current = Number(await MIGRATE.run(this.client, this.keys(queue).layout, args)) === 1;
        this.layoutChecks.set(queue, READY);
      })();
      // A failed check is retried by the next call.
      check.catch(() => this.layoutChecks.delete(queue));
      this.layoutChecks.set(queue, check);
    }
    return check;
  }

  async call<T>(operation: string, queue: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(operation);
    try {
      return await fn();
    } catch (err) {
      throw mapRedisError(err, operation, { queue });
    }
  }

  /** Whether this process has already added `queue` to the directory. */
  isListed(queue: string): boolean {
    return this.listedQueues.has(queue);
  }

  /**
   * The directory of queues is one set outside every queue's hash tag (so in a slot of its own on a
   * cluster); it is written once per queue and process, before the queue's first write.
   */
  async addToDirectory(queue: string): Promise<void> {
    if (this.listedQueues.has(queue)) return;
    await this.call('addToDirectory', queue, () => this.client.sadd(this.directoryKey(), queue));
    this.listedQueues.add(queue);
  }

  async listQueues(): Promise<string[]> {
    return this.call('listQueues', '', async () => (await this.client.smembers(this.directoryKey())).sort());
  }

  private directoryKey(): string {
    return `${this.options.keyPrefix}:queues`;
  }
}

/** A layout check that has completed. */
const READY: Promise<void> = Promise.resolve();

export function closedError(operation: string): SkqError {
  return new SkqError('BACKEND_UNAVAILABLE', `redis ${operation}: the backend is closed`);
}
