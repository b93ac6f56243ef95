// Attempts of handlers that throw what a careless or hostile handler would: the outcome is always recorded.
import { describe, expect, it } from 'vitest';
import { RetryAfter, SkqError } from '@skq/core';
import { JobRegistry, serializeError, type ClaimedDelivery } from '@skq/core/backend';
import { AttemptControl } from '../src/attempt-control.js';
import { runAttempt } from '../src/run-attempt.js';

function delivery(overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: 'job-1.0',
    jobId: 'job-1',
    queue: 'q',
    route: 'r',
    targetWorker: null,
    state: 'running',
    priority: 0,
    runAt: 0,
    attempts: 1,
    maxAttempts: 1,
    recoveries: 0,
    workerId: 'w1',
    leaseUntil: null,
    startedAt: 0,
    finishedAt: null,
    result: null,
    error: null,
    cancelRequested: false,
    progress: null,
    name: 'job',
    args: [],
    options: { attempts: 1, backoff: { type: 'fixed', delayMs: 10, maxDelayMs: 10, jitter: 0 }, timeoutMs: null },
    ...overrides,
  };
}

function registryWith(handler: (...args: unknown[]) => unknown): JobRegistry {
  const registry = new JobRegistry();
  registry.add('q', { name: 'job', kind: 'function', argsSchema: undefined, run: async (args) => handler(...args) });
  return registry;
}

const attempt = (d: ClaimedDelivery, handler: (...args: unknown[]) => unknown, controller = new AttemptControl()) =>
  runAttempt(d, { registry: registryWith(handler), workerId: 'w1', controller, sink: () => undefined });

describe('errors a handler throws', () => {
  const hostile: [string, () => unknown][] = [
    ['an error whose message getter throws', () => Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no message'); } })],
    ['an error whose code getter throws', () => Object.defineProperty(new Error('x'), 'code', { get: () => { throw new Error('no code'); } })],
    ['a Proxy whose traps all throw', () => new Proxy({}, { get: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); }, ownKeys: () => { throw new Error('trap'); } })],
    ['a null-prototype object', () => Object.create(null)],
    ['null', () => null],
    ['a symbol', () => Symbol('s')],
    ['a BigInt', () => 10n],
    ['an object with a throwing toJSON', () => ({ toJSON: () => { throw new Error('no json'); } })],
  ];
  for (const [what, make] of hostile) {
    it(`serializes ${what} without throwing, and the attempt fails with it recorded`, async () => {
      expect(() => serializeError(make())).not.toThrow();
      const outcome = await attempt(delivery(), () => {
        throw make();
      });
      expect(outcome.kind).toBe('failed');
      expect(typeof (outcome as { error: { message: string } }).error.message).toBe('string');
      expect(() => JSON.stringify(outcome)).not.toThrow();
    });
  }
});

describe('RetryAfter', () => {
  it('fails the job, recorded, when a handler builds a bad one (a bad Retry-After header)', async () => {
    const outcome = await attempt(delivery({ maxAttempts: 5, options: { ...delivery().options, attempts: 5 } }), () => {
      throw new RetryAfter(Number.parseFloat('Wed, 21 Oct'));
    });
    expect(outcome).toMatchObject({ kind: 'failed', retryAt: null, error: { code: 'ARGS_INVALID' } });
  });
});

describe('attempts', () => {
  it('does not call a handler whose attempt was aborted before it started (a rough stop)', async () => {
    let called = false;
    const controller = new AttemptControl();
    controller.abort(new SkqError('INTERRUPTED', 'stopping'));
    const outcome = await attempt(delivery(), () => (called = true), controller);
    expect(called).toBe(false);
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'INTERRUPTED' } });
  });

  it('does not charge lease recoveries to the retry budget', async () => {
    // retry: 2; attempt 1 was SIGKILLed (recovered), attempt 2 throws: one try is left.
    const d = delivery({ attempts: 2, recoveries: 1, maxAttempts: 2, options: { ...delivery().options, attempts: 2 } });
    const outcome = await attempt(d, () => {
      throw new Error('flaky');
    });
    expect(outcome).toMatchObject({ kind: 'failed' });
    expect((outcome as { retryAt: number | null }).retryAt).not.toBeNull();
    const spent = await attempt({ ...d, attempts: 3 }, () => {
      throw new Error('flaky');
    });
    expect(spent).toMatchObject({ kind: 'failed', retryAt: null });
  });
});

describe('what a handler returns, passed through as it is', () => {
  /** A registry whose job returns the handler's own value: no promise of skunq's around it. */
  const attemptRaw = (handler: () => unknown) => {
    const registry = new JobRegistry();
    registry.add('q', { name: 'job', kind: 'function', argsSchema: undefined, run: () => handler() });
    return runAttempt(delivery(), { registry, workerId: 'w1', controller: new AttemptControl(), sink: () => undefined });
  };

  it('succeeds with a plain value, and fails with a synchronous throw, recorded', async () => {
    expect(await attemptRaw(() => ({ n: 1 }))).toEqual({ kind: 'succeeded', result: { n: 1 } });
    expect(await attemptRaw(() => undefined)).toEqual({ kind: 'succeeded', result: null });
    expect(await attemptRaw(() => {
      throw new Error('at once');
    })).toMatchObject({ kind: 'failed', error: { message: 'at once' } });
  });

  it('takes a thenable that is no promise, and fails the attempt on a hostile one', async () => {
    expect(await attemptRaw(() => ({ then: (resolve: (v: unknown) => void) => resolve(7) }))).toEqual({ kind: 'succeeded', result: 7 });
    expect(await attemptRaw(() => ({ then: () => {
      throw new Error('then threw');
    } }))).toMatchObject({ kind: 'failed', error: { message: 'then threw' } });
    const trapped = new Proxy({}, { get: () => {
      throw new Error('trap');
    } });
    expect(await attemptRaw(() => trapped)).toMatchObject({ kind: 'failed', error: { message: 'trap' } });
    // Settled once: a thenable that answers twice, or both ways, counts its first answer.
    expect(await attemptRaw(() => ({ then: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => {
      resolve(1);
      reject(new Error('late'));
      resolve(2);
    } }))).toEqual({ kind: 'succeeded', result: 1 });
  });
});
