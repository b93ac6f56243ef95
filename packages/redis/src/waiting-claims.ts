import type { Cluster, Redis } from 'ioredis';
import type { ClaimResult } from '@skq/core/backend';
import { closedError, type CommandRunner } from './command-runner.js';
import { settleClaim } from './lease-operations.js';
import { waitReady } from './redis-connection.js';
import { Script } from './script-runner.js';

const END_WAIT = new Script('end_wait');

/** A claim that found nothing and parked its worker (scripts/hand-off.ts). */
export interface ParkedClaim {
  queue: string;
  route: string;
  workerId: string;
  waitMs: number;
  /** The claim's next run time: the wait ends then at the latest, so the worker claims what came due. */
  nextRunAt: number | null;
  signal: AbortSignal | undefined;
}

type Client = Redis | Cluster;

/**
 * The waits of parked claims: each waits on its worker's hand-off list with BLPOP, on a connection of its
 * own (a blocking command holds its connection until it answers), kept for the next wait. A wait ends with
 * the delivery an enqueue handed over; at its time, or when its signal is aborted, `end_wait` takes the
 * parking back (and what was handed over meanwhile, so nothing handed over is left leased and unrun).
 */
export class WaitingClaims {
  private readonly free: Client[] = [];
  private readonly open = new Set<Client>();
  private closed = false;

  constructor(private readonly runner: CommandRunner) {}

  async wait(parked: ParkedClaim): Promise<ClaimResult> {
    const until = Date.now() + Math.min(parked.waitMs, parked.nextRunAt === null ? Infinity : Math.max(1, parked.nextRunAt - Date.now()));
    let connection: Client;
    try {
      if (parked.signal?.aborted) return await this.end(parked, false);
      connection = await this.connection();
    } catch (err) {
      await this.end(parked, false).catch(() => undefined);
      throw err;
    }
    // A worker keeps one signal for many waits: each takes its listener off as it ends.
    let callOff = () => undefined as void;
    const called = new Promise<'called-off'>((resolve) => {
      callOff = () => resolve('called-off');
      if (parked.signal?.aborted) callOff();
    });
    parked.signal?.addEventListener('abort', callOff, { once: true });
    try {
      return await this.waitOn(connection, until, called, parked);
    } finally {
      parked.signal?.removeEventListener('abort', callOff);
    }
  }

  private async waitOn(connection: Client, until: number, called: Promise<'called-off'>, parked: ParkedClaim): Promise<ClaimResult> {
    const key = this.runner.keys(parked.queue).handOff(parked.workerId);
    for (let remaining = until - Date.now(); remaining > 0; remaining = until - Date.now()) {
      const pop = connection.blpop(key, (Math.ceil(remaining) / 1000).toFixed(3)).then(
        (reply) => ({ item: reply?.[1] ?? null }),
        (err: unknown) => ({ err }),
      );
      const first = await Promise.race([pop, called]);
      if (first === 'called-off') {
        // end_wait wakes the BLPOP with '', unless it took a delivery handed over first: both answers count.
        const ended = await this.end(parked, true).finally(() => void pop.then((last) => this.release(connection, 'err' in last)));
        const last = await pop;
        if (!('err' in last) && last.item) ended.deliveries.push(...(await this.settle(parked, last.item)).deliveries);
        return ended;
      }
      if ('err' in first) {
        // A connection lost while waiting: what may have been handed over is taken back by end_wait.
        this.release(connection, true);
        return await this.end(parked, false);
      }
      if (first.item === null) break;
      // '' only woke a wait that had already ended.
      if (first.item === '') continue;
      this.release(connection, false);
      const handed = await this.settle(parked, first.item);
      handed.waited = true;
      return handed;
    }
    this.release(connection, false);
    return this.end(parked, false);
  }

  /** Disconnects the waits' connections; a wait in progress then ends as a lost connection does. */
  close(): void {
    this.closed = true;
    for (const connection of this.open) connection.disconnect();
    this.open.clear();
    this.free.length = 0;
  }

  private settle(parked: ParkedClaim, item: string): Promise<ClaimResult> {
    return settleClaim(this.runner, parked.queue, parked.route, parked.workerId, JSON.parse(item));
  }

  /** Takes the parking back (waking the BLPOP with `wake`), with whatever was handed over and not taken. */
  private async end(parked: ParkedClaim, wake: boolean): Promise<ClaimResult> {
    const { queue, route, workerId } = parked;
    const raw = await this.runner.run('claim', queue, END_WAIT, this.runner.keys(queue).handOff(workerId), [route, workerId, wake ? '1' : '']);
    const result = await settleClaim(this.runner, queue, route, workerId, raw);
    result.waited = true;
    return result;
  }

  private async connection(): Promise<Client> {
    const kept = this.free.pop();
    if (kept) return kept;
    const connection = this.runner.client.duplicate();
    connection.on('error', () => undefined); // It reconnects by itself; a wait that loses it ends with end_wait.
    await this.runner.call('claim', '', () => waitReady(connection, this.runner.options.connectTimeoutMs, 'claim'));
    if (this.closed) {
      connection.disconnect();
      throw closedError('claim');
    }
    this.open.add(connection);
    return connection;
  }

  private release(connection: Client, broken: boolean): void {
    if (broken || this.closed) {
      this.open.delete(connection);
      connection.disconnect();
    } else if (this.open.has(connection)) this.free.push(connection);
  }
}
