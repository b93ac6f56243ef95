import { SkqError, isSkqError } from '@skq/core';
import { acquireBackend, redactUrl, releaseBackend, serializeError, type StorageBackend } from '@skq/core/backend';

/** The first wait after a failed connection; each next one doubles, up to {@link MAX_WAIT_MS}. */
const FIRST_WAIT_MS = 250;
/** Waits stay short enough that a server that comes back is found within a few seconds. */
const MAX_WAIT_MS = 4_000;

/** How {@link acquireWhenReachable} waits. */
export interface ReachOptions {
  /** Give up (`BACKEND_UNAVAILABLE`) after this long; null waits for ever. */
  timeoutMs: number | null;
  /** Stops the wait at once: the result is then null. */
  signal: AbortSignal;
  /** Where the line said before each wait goes. */
  log: (line: string) => void;
  /** Starts each line: `skunq`, `skunq web`. */
  prefix: string;
}

/**
 * Acquires the backend of `url` (shared with the pools and monitors of this process that name the
 * same URL; the caller releases it), trying again while the server does not answer: a process
 * started before its server (compose, systemd, a rolling restart) waits for it instead of exiting.
 * Only `BACKEND_UNAVAILABLE` is waited out; a bad URL or a missing package fails at once. Resolves
 * to null when `signal` aborts first.
 *
 * @example
 * ```ts
 * const backend = await acquireWhenReachable('redis://127.0.0.1:6379', { timeoutMs: null, signal, log: say, prefix: 'skunq' });
 * ```
 */
export async function acquireWhenReachable(url: string, options: ReachOptions): Promise<StorageBackend | null> {
  const started = Date.now();
  let waitMs = FIRST_WAIT_MS;
  for (;;) {
    if (options.signal.aborted) return null;
    const attempt = acquireBackend(url);
    let failure: unknown;
    try {
      const backend = await untilAborted(attempt, options.signal);
      if (backend) return backend;
      // Given up on while connecting: whatever the attempt opens is given back.
      attempt.then(() => releaseBackend(url), () => undefined);
      return null;
    } catch (err) {
      if (!isSkqError(err) || err.code !== 'BACKEND_UNAVAILABLE') throw err;
      failure = err;
    }
    const reason = serializeError(failure).message;
    const left = options.timeoutMs === null ? Number.POSITIVE_INFINITY : started + options.timeoutMs - Date.now();
    if (left <= 0) {
      throw new SkqError('BACKEND_UNAVAILABLE', `backend ${redactUrl(url)} did not answer within --connect-timeout ${options.timeoutMs} ms: ${reason}`, {
        cause: failure,
        context: { field: 'backend' },
      });
    }
    const wait = Math.min(waitMs, left);
    options.log(`${options.prefix}: backend ${redactUrl(url)} is not answering (${reason}); trying again in ${(wait / 1000).toFixed(1)} s`);
    if (!(await sleepUnlessAborted(wait, options.signal))) return null;
    waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
  }
}

/** The promise's value, or null as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  return new Promise<T | null>((resolve, reject) => {
    const onAbort = () => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
