import { eventually, sleep } from './contract-fixtures.js';

/** What {@link fireThroughRestart} saw. */
export interface RestartLoad<T> {
  /** What each acknowledged fire returned. */
  acknowledged: T[];
  /** The errors of the fires that were refused. */
  refused: unknown[];
  fired: number;
  /** How many fires were acknowledged when the server answered again. */
  ackedWhenBack: number;
  startedAt: number;
  restartAt: number;
  backAt: number;
}

export interface RestartLoadOptions<T> {
  /** Fires job number `n`; its result counts as acknowledged, its error as refused. */
  fire: (n: number) => Promise<T>;
  /** Stops the server and starts it again. */
  restart: () => Promise<void>;
  /** The restart begins once this many fires were acknowledged. */
  restartAfter: number;
  producers: number;
  /** The pause between one producer's fires. */
  paceMs: number;
  /** Producers go on firing this long after the server is back. */
  fireAfterBackMs: number;
  /**
   * Producers stop earlier once this many fires were acknowledged after the server is back: a slow
   * server gets a load it can drain, a fast one its full `fireAfterBackMs`. Default: no limit.
   */
  acknowledgedAfterBack?: number;
  /** How long reaching `restartAfter` may take. Default 30 s. */
  timeoutMs?: number;
}

/**
 * The restart test's load: paced producers fire jobs while the server restarts in the middle of
 * the firing. A fire in flight when the connection drops may be resent on reconnect (and must be
 * answered once); one made while the server is down may be refused. The caller then checks that
 * every acknowledged job completes.
 *
 * @example
 * ```ts
 * const load = await fireThroughRestart({ fire: (n) => job.fire(n), restart: () => server.restart(500), restartAfter: 400, producers: 4, paceMs: 2, fireAfterBackMs: 1_000 });
 * ```
 */
export async function fireThroughRestart<T>(options: RestartLoadOptions<T>): Promise<RestartLoad<T>> {
  const load: RestartLoad<T> = { acknowledged: [], refused: [], fired: 0, ackedWhenBack: 0, startedAt: Date.now(), restartAt: 0, backAt: Infinity };
  const restart = (async () => {
    await eventually(() => load.acknowledged.length >= options.restartAfter, `${options.restartAfter} acknowledged jobs`, options.timeoutMs ?? 30_000);
    load.restartAt = Date.now();
    await options.restart();
    load.backAt = Date.now();
    load.ackedWhenBack = load.acknowledged.length;
  })();
  const producer = async () => {
    const enough = () => load.backAt !== Infinity && load.acknowledged.length - load.ackedWhenBack >= (options.acknowledgedAfterBack ?? Infinity);
    while (Date.now() < load.backAt + options.fireAfterBackMs && !enough()) {
      const n = load.fired++;
      try {
        load.acknowledged.push(await options.fire(n));
      } catch (err) {
        load.refused.push(err);
      }
      await sleep(options.paceMs);
    }
  };
  // A producer stops when the restart fails, so the failure surfaces instead of a hang.
  const failed = restart.catch(() => {
    load.backAt = -Infinity;
  });
  await Promise.all([...Array.from({ length: options.producers }, producer), failed]);
  await restart;
  return load;
}
