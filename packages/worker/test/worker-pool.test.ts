import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobMixin, RateLimited, RetryAfter, SkqError, UnrecoverableError, currentJob } from '@skq/core';
import { type ClaimRequest, type LeaseToken, type StorageBackend } from '@skq/core/backend';
import { WorkerPool, type WorkerPoolOptions } from '@skq/worker';
import { eventually, sleep } from '@skq/testing';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('worker', 'rough');

/** The backend with some calls replaced by `calls(real)`, to stage a server misbehaving around the real one. */
function withCalls(real: StorageBackend, calls: (target: StorageBackend) => Partial<StorageBackend>): StorageBackend {
  const replaced = calls(real) as Record<PropertyKey, unknown>;
  return new Proxy(real, {
    get(target, prop) {
      if (prop in replaced) return replaced[prop];
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function setup(type: 'direct' | 'broadcast' = 'direct') {
  const queue = fixture.queue({ type });
  const start = (options: Partial<WorkerPoolOptions> = {}) => fixture.startPool({ queue, routes: ['foo'], pollIntervalMs: 200, ...options });
  return { queue, start };
}

describe('WorkerPool', () => {
  it('runs a function job and returns its result', async () => {
    const { queue, start } = setup();
    const add = queue.job({ name: 'add', routes: ['foo'], args: z.tuple([z.number(), z.number()]) }, async (a, b) => a + b);
    await start();
    const handle = await add.fire(4, 5);
    expect(await handle.result({ timeoutMs: 5_000 })).toBe(9);
    const info = await handle.info();
    expect(info).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(info.deliveries[0]!.workerId).toMatch(/:foo:/);
    expect(info.startedAt).toBeLessThanOrEqual(info.finishedAt!);
  });

  it('does not start a job whose lease ran out before its claim came back, and runs it once when it is taken back', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    let stalled = false;
    // A backend whose first non-empty claim answers after the lease ran out, once another worker's
    // recovery has taken the job back: a server paused between setting the lease and answering.
    const stalling = withCalls(real, (target) => ({
      claim: async (request: ClaimRequest) => {
        const result = await target.claim(request);
        if (result.deliveries.length > 0 && !stalled) {
          stalled = true;
          await sleep(request.leaseMs + 50);
          await target.recoverExpired(request.queue); // unless the pool's own recovery was first
        }
        return result;
      },
    }));
    const attempts: number[] = [];
    const once = queue.job({ name: 'once', routes: ['foo'] }, async () => {
      attempts.push(currentJob().attempt);
      return 'ran';
    });
    await start({ backend: stalling, leaseMs: 300 });
    const handle = await once.fire();
    expect(await handle.result({ timeoutMs: 10_000 })).toBe('ran');
    expect(attempts).toEqual([2]);
  });

  it('backs off instead of spinning while a store whose clock runs behind says a due job is not due yet', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    // The store's clock 300 ms behind the worker's: for 300 ms after its run time, a delayed job is
    // answered as due at an instant the worker has already passed.
    let claims = 0;
    const behind = withCalls(real, (target) => ({
      claim: (request: ClaimRequest) => {
        claims += 1;
        return target.claim({ ...request, now: (request.now ?? Date.now()) - 300 });
      },
    }));
    let ranAt = 0;
    const later = queue.job({ name: 'later', routes: ['foo'] }, async () => {
      ranAt = Date.now();
    });
    await start({ backend: behind });
    const runAt = Date.now() + 100;
    const handle = await later.fireAt(new Date(runAt));
    const claimsBefore = claims;
    await handle.result({ timeoutMs: 10_000 });
    expect(ranAt).toBeGreaterThanOrEqual(runAt + 300);
    // Claims at the run time, then 1, 2, 4 … 128 ms apart, and the poll: a spinning worker claims hundreds of times.
    expect(claims - claimsBefore).toBeLessThan(30);
  });

  it('wakes an idle worker for a job with one claim, not with a second that could only come back empty', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    let [sent, answered] = [0, 0];
    const counted = withCalls(real, (target) => ({
      claim: async (request: ClaimRequest) => {
        sent += 1;
        const result = await target.claim(request);
        answered += 1;
        return result;
      },
    }));
    const job = queue.job({ name: 'one', routes: ['foo'] }, async (n: number) => n);
    // A backlog first, run in claims that come back full, then the worker's last claim comes back short.
    await queue.pushMany(Array.from({ length: 40 }, (_, n) => job.with(n)));
    await start({ backend: counted, concurrency: 2, prefetch: 2, pollIntervalMs: 60_000 });
    await eventually(async () => (await queue.counts()).foo?.succeeded === 40, 'the backlog run', 10_000);
    await eventually(() => answered === sent, 'every claim answered');
    const backlogClaims = sent;
    // Idle now: a job fired wakes the worker, which claims once (a second claim would only come back empty).
    const handle = await job.fire(41);
    expect(await handle.result({ timeoutMs: 10_000 })).toBe(41);
    await eventually(() => answered === sent, 'every claim answered');
    expect(sent - backlogClaims).toBe(1);
  });

  it('renews the lease of a job it runs again while the outcome of its last attempt is still on its way', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    const attempts: number[] = [];
    let away = false;
    let secondStarted!: () => void;
    const second = new Promise<void>((resolve) => (secondStarted = resolve));
    // While the server is away, the first attempt's completion waits and its renewals fail; the lease
    // runs out and the pool's own recovery hands the job back to the same pool as attempt 2.
    const flaky = withCalls(real, (target) => ({
      complete: async (q: string, lease: LeaseToken, result: unknown) => {
        if (lease.attempt === 1) await second;
        return target.complete(q, lease, result);
      },
      extendLease: async (q: string, leases: LeaseToken[], ms: number) => {
        if (away) throw new SkqError('BACKEND_UNAVAILABLE', 'the server is away');
        return target.extendLease(q, leases, ms);
      },
    }));
    const twice = queue.job({ name: 'twice', routes: ['foo'] }, async () => {
      const { attempt } = currentJob();
      attempts.push(attempt);
      if (attempt === 1) away = true;
      else {
        away = false;
        secondStarted();
        await sleep(1_000); // longer than the lease: only renewals keep it
      }
      return attempt;
    });
    await start({ backend: flaky, leaseMs: 300 });
    const handle = await twice.fire();
    expect(await handle.result({ timeoutMs: 10_000 })).toBe(2);
    expect(attempts).toEqual([1, 2]);
  });

  it("renews every route worker's leases when one worker's renewal fails", async () => {
    const { queue } = setup();
    const real = await queue.backend();
    // The renewals of route a's worker fail (the server refuses them); route b's must go on regardless.
    const refusing = withCalls(real, (target) => ({
      extendLease: async (q: string, leases: LeaseToken[], ms: number) => {
        if (leases.some((lease) => lease.workerId.includes(':a:'))) throw new SkqError('BACKEND_ERROR', 'refused');
        return target.extendLease(q, leases, ms);
      },
    }));
    let bDone!: () => void;
    const bEnded = new Promise<void>((resolve) => (bDone = resolve));
    const bAttempts: number[] = [];
    const onA = queue.job({ name: 'on-a', routes: ['a'] }, async () => {
      await bEnded;
      return 'a';
    });
    const onB = queue.job({ name: 'on-b', routes: ['b'] }, async () => {
      bAttempts.push(currentJob().attempt);
      await sleep(1_000); // longer than the lease: only renewals keep it
      return currentJob().attempt;
    });
    await fixture.startPool({ queue, routes: ['a', 'b'], pollIntervalMs: 200, backend: refusing, leaseMs: 300 });
    const a = await onA.fire();
    await eventually(async () => (await a.state()) === 'running', 'the job on route a to run');
    const b = await onB.fire();
    expect(await b.result({ timeoutMs: 10_000 })).toBe(1);
    bDone();
    expect(bAttempts).toEqual([1]);
    await a.result({ timeoutMs: 10_000 });
  });

  it('claims nothing until it has registered: a pool whose start fails ran no job', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    const ran: string[] = [];
    const job = queue.job({ name: 'early', routes: ['foo'] }, async () => ran.push(currentJob().jobId));
    let registering!: () => void;
    const registrationStarted = new Promise<void>((resolve) => (registering = resolve));
    // Registration hangs, then fails (a cluster redirecting for seconds), while jobs arrive and wake the pool.
    const failing = withCalls(real, (target) => ({
      registerWorker: async () => {
        registering();
        await sleep(500);
        throw new SkqError('BACKEND_ERROR', 'too many cluster redirections');
      },
    }));
    const starting = start({ backend: failing });
    await registrationStarted;
    const handle = await job.fire();
    await expect(starting).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
    expect(ran).toEqual([]);
    expect(await handle.state()).toBe('queued');
  });

  it('starts no further part of a conjunction once the job was taken back while its worker stalled', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    let stalled = false;
    // The first renewal after the stall finds the job taken back, as another worker's recovery would have.
    const takenBack = withCalls(real, (target) => ({
      extendLease: async (q: string, leases: LeaseToken[], ms: number) => {
        if (stalled) {
          stalled = false;
          expect(await target.recoverExpired(q)).toBe(1); // the lease ran out during the stall
        }
        return target.extendLease(q, leases, ms);
      },
    }));
    const ranB: number[] = [];
    const a = queue.job({ name: 'part-a', routes: ['foo'] }, async () => {
      if (currentJob().attempt === 1) {
        stalled = true;
        const until = Date.now() + 450; // longer than the lease, with the event loop blocked: no renewal runs
        while (Date.now() < until);
      }
      return 'a';
    });
    const b = queue.job({ name: 'part-b', routes: ['foo'] }, async () => {
      ranB.push(currentJob().attempt);
      return 'b';
    });
    await start({ backend: takenBack, leaseMs: 300 });
    const handle = await queue.push(a.with().and(b.with()));
    expect(await handle.result({ timeoutMs: 10_000 })).toEqual(['a', 'b']);
    expect(ranB).toEqual([2]);
  });

  it('stops claiming at once on a stop, even while its scheduler waits on a server that is away', async () => {
    const { queue, start } = setup();
    const real = await queue.backend();
    let release!: () => void;
    const away = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const schedulerWaiting = new Promise<void>((resolve) => (asked = resolve));
    const stuck = withCalls(real, (target) => ({
      listSchedules: async (q: string) => {
        asked();
        await away;
        return target.listSchedules(q);
      },
    }));
    const ran: string[] = [];
    const job = queue.job({ name: 'after-stop', routes: ['foo'] }, async () => ran.push(currentJob().jobId));
    const pool = await start({ backend: stuck, scheduler: true });
    await schedulerWaiting;
    const closing = pool.close('rough');
    const handle = await job.fire();
    await sleep(300); // a window for a claim that should not happen
    release();
    await closing;
    expect(ran).toEqual([]);
    expect(await handle.state()).toBe('queued');
  });

  it('records a failure with the remote message, stack and code', async () => {
    const { queue, start } = setup();
    const explode = queue.job({ name: 'explode', routes: ['foo'] }, async () => {
      const err = new Error('kaboom') as Error & { code: string };
      err.code = 'E_KABOOM';
      throw err;
    });
    await start();
    const handle = await explode.fire();
    const err = await handle.result({ timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkqError);
    expect(err).toMatchObject({ code: 'JOB_FAILED', message: expect.stringContaining('kaboom'), context: { remoteCode: 'E_KABOOM' } });
    expect((err as SkqError).remoteStack).toContain('kaboom');
    expect((await handle.info()).deliveries[0]!.error).toMatchObject({ message: 'kaboom', code: 'E_KABOOM' });
  });

  it('retries with backoff until the job succeeds', async () => {
    const { queue, start } = setup();
    const seen: number[] = [];
    const flaky = queue.job(
      { name: 'flaky', routes: ['foo'], retry: { attempts: 4, backoff: { type: 'exponential', delayMs: 50, jitter: 0 } } },
      async () => {
        seen.push(Date.now());
        if (seen.length < 3) throw new Error(`try ${seen.length}`);
        return currentJob().attempt;
      },
    );
    await start();
    const handle = await flaky.fire();
    expect(await handle.result({ timeoutMs: 5_000 })).toBe(3);
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(45);
    expect(seen[2]! - seen[1]!).toBeGreaterThanOrEqual(95);
    expect((await handle.info()).attempts).toBe(3);
  });

  it('does not retry an UnrecoverableError, and retries a RetryAfter at its time', async () => {
    const { queue, start } = setup();
    let calls = 0;
    const fatal = queue.job({ name: 'fatal', routes: ['foo'], retry: 5 }, async () => {
      throw new UnrecoverableError('no point');
    });
    const later = queue.job({ name: 'later', routes: ['foo'], retry: 3 }, async () => {
      calls += 1;
      if (calls === 1) throw new RetryAfter(300);
      return 'done';
    });
    await start();
    const a = await fatal.fire();
    await expect(a.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'JOB_FAILED' });
    expect((await a.info()).attempts).toBe(1);
    const fired = Date.now();
    const b = await later.fire();
    expect(await b.result({ timeoutMs: 5_000 })).toBe('done');
    expect(Date.now() - fired).toBeGreaterThanOrEqual(290);
  });

  it('puts a RateLimited job back without using an attempt, and holds its whole group meanwhile', async () => {
    const { queue, start } = setup();
    const runs: { group: string | null; at: number; attempt: number }[] = [];
    let limited = false;
    const call = queue.job({ name: 'call-api', routes: ['foo'], retry: 1, group: (tenant: string) => tenant }, async (tenant: string) => {
      runs.push({ group: currentJob().group, at: Date.now(), attempt: currentJob().attempt });
      if (tenant === 't1' && !limited) {
        limited = true;
        currentJob().rateLimitGroup(400);
      }
      return tenant;
    });
    await start({ prefetch: 0 });
    const first = await call.fire('t1');
    await eventually(() => limited, 'the first call limited');
    const held = Date.now();
    const [second, other] = await Promise.all([call.fire('t1'), call.fire('t2')]);
    expect(await other.result({ timeoutMs: 5_000 })).toBe('t2');
    expect(await first.result({ timeoutMs: 5_000 })).toBe('t1');
    expect(await second.result({ timeoutMs: 5_000 })).toBe('t1');
    // t2 ran at once; t1's jobs only once the hold of 400 ms had passed, the limited one on its second claim with one attempt allowed.
    const t1 = runs.filter((r) => r.group === 't1');
    expect(t1).toHaveLength(3);
    expect(t1.slice(1).every((r) => r.at >= held + 350)).toBe(true);
    expect(runs.find((r) => r.group === 't2')!.at).toBeLessThan(held + 350);
    const info = await first.info();
    expect(info.state).toBe('succeeded');
    expect(info.attempts).toBe(2);
  });

  it('wakes a worker held back by a group limit when a job of that group ends, not at its poll', async () => {
    const { queue, start } = setup();
    await queue.setGroupLimits('solo', { concurrency: 1 });
    const done: number[] = [];
    const step = queue.job({ name: 'step', routes: ['foo'], group: () => 'solo' }, async () => {
      await sleep(20);
      done.push(Date.now());
    });
    // A poll of 10 s: only the end of the job before can wake the worker in time.
    await start({ concurrency: 4, prefetch: 0, pollIntervalMs: 10_000 });
    const handles = await queue.pushMany(Array.from({ length: 5 }, () => step.with()));
    for (const handle of handles) await handle.result({ timeoutMs: 5_000 });
    expect(done).toHaveLength(5);
  });

  it('aborts a job at its timeout and fails the attempt with TIMEOUT', async () => {
    const { queue, start } = setup();
    let aborted: unknown = null;
    const slow = queue.job({ name: 'slow', routes: ['foo'], timeout: 100 }, async function () {
      this.signal.addEventListener('abort', () => (aborted = this.signal.reason));
      await sleep(5_000);
    });
    await start();
    const handle = await slow.fire();
    await expect(handle.result({ timeoutMs: 3_000 })).rejects.toMatchObject({ context: { remoteCode: 'TIMEOUT' } });
    expect(aborted).toMatchObject({ code: 'TIMEOUT' });
  });

  it('cancels a running job through its AbortSignal', async () => {
    const { queue, start } = setup();
    let started = false;
    const long = queue.job({ name: 'long', routes: ['foo'] }, async function () {
      started = true;
      await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
    });
    await start();
    const handle = await long.fire();
    await eventually(() => started, 'the job to start');
    expect(await handle.cancel()).toBe(true);
    await expect(handle.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await handle.state()).toBe('cancelled');
  });

  it('fails an unknown job with UNKNOWN_JOB and keeps running', async () => {
    const { queue, start } = setup();
    const ok = queue.job({ name: 'ok', routes: ['foo'] }, async () => 'fine');
    await start();
    const backendObj = await queue.backend();
    const [ghost] = await backendObj.enqueue([
      { id: 'ghost-' + Date.now(), queue: queue.name, name: 'ghost', args: [], routes: ['foo'], type: 'direct', priority: 0, runAt: Date.now(), createdAt: Date.now(), options: { attempts: 3, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 1, jitter: 0 }, timeoutMs: null } },
    ]);
    const handle = await queue.get(ghost!.id);
    await expect(handle.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'JOB_FAILED', context: { remoteCode: 'UNKNOWN_JOB' } });
    expect((await handle.info()).attempts).toBe(1);
    expect(await (await ok.fire()).result({ timeoutMs: 5_000 })).toBe('fine');
  });

  it('fails a job whose stored arguments break its schema with ARGS_INVALID', async () => {
    const { queue, start } = setup();
    queue.job({ name: 'typed', routes: ['foo'], args: z.tuple([z.string()]) }, async (s) => s.toUpperCase());
    await start();
    const [bad] = await (await queue.backend()).enqueue([
      { id: 'bad-' + Date.now(), queue: queue.name, name: 'typed', args: [42], routes: ['foo'], type: 'direct', priority: 0, runAt: Date.now(), createdAt: Date.now(), options: { attempts: 3, backoff: { type: 'fixed', delayMs: 0, maxDelayMs: 1, jitter: 0 }, timeoutMs: null } },
    ]);
    await expect((await queue.get(bad!.id)).result({ timeoutMs: 5_000 })).rejects.toMatchObject({ context: { remoteCode: 'ARGS_INVALID' } });
  });

  it('captures console output and ctx.log into the job log', async () => {
    const { queue, start } = setup();
    const chatty = queue.job({ name: 'chatty', routes: ['foo'] }, async () => {
      console.log('from console', { n: 1 });
      currentJob().log('from ctx');
    });
    await start();
    const handle = await chatty.fire();
    await handle.result({ timeoutMs: 5_000 });
    expect((await handle.logs()).map((l) => [l.stream, l.line])).toEqual([
      ['log', 'from console {"n":1}'],
      ['ctx', 'from ctx'],
    ]);
  });

  it('runs class jobs and conjunctions, stopping a conjunction at its first failure', async () => {
    const { queue, start } = setup();
    const order: string[] = [];
    class Step extends JobMixin {
      override routes = ['foo'];
      work(label: string) {
        order.push(label);
        if (label === 'boom') throw new Error('step failed');
        return label.toUpperCase();
      }
    }
    queue.register(Step);
    await start();
    const good = await queue.push(new Step().with('a').and(new Step().with('b')));
    expect(await good.result({ timeoutMs: 5_000 })).toEqual(['A', 'B']);
    const bad = await queue.push(new Step().with('c').and(new Step().with('boom')).and(new Step().with('never')));
    await expect(bad.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ message: expect.stringContaining('part 2 of 3') });
    expect(order).toEqual(['a', 'b', 'c', 'boom']);
    expect(await bad.state()).toBe('failed');
  });

  it('runs up to its concurrency at once, per route', async () => {
    const { queue, start } = setup();
    let running = 0;
    let peak = 0;
    const job = queue.job({ name: 'busy', routes: ['foo'] }, async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(100);
      running -= 1;
    });
    await start({ concurrency: 3 });
    const handles = await queue.pushMany(Array.from({ length: 9 }, () => job.with()));
    await Promise.all(handles.map((h) => h.result({ timeoutMs: 10_000 })));
    expect(peak).toBe(3);
  });

  it('on a broadcast queue, delivers to every listening worker', async () => {
    const { queue, start } = setup('broadcast');
    const hello = queue.job({ name: 'hello', routes: ['foo'] }, async () => currentJob().workerId);
    const a = await start();
    const b = await start();
    const handle = await hello.fire();
    await handle.result({ timeoutMs: 5_000 });
    const deliveries = await handle.deliveries();
    expect(deliveries.map((d) => d.state)).toEqual(['succeeded', 'succeeded']);
    expect(new Set(deliveries.map((d) => d.result))).toEqual(new Set([...a.workerIds, ...b.workerIds]));
    expect(deliveries.map((d) => d.workerId).sort()).toEqual([...a.workerIds, ...b.workerIds].sort());
  });

  it('on a direct queue, hands each job to one of several workers', async () => {
    const { queue, start } = setup();
    const job = queue.job({ name: 'who', routes: ['foo'] }, async () => {
      await sleep(20);
      return currentJob().workerId;
    });
    await start({ concurrency: 2 });
    await start({ concurrency: 2 });
    const handles = await queue.pushMany(Array.from({ length: 20 }, () => job.with()));
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 10_000 })));
    expect(new Set(results).size).toBe(2);
    for (const h of handles) expect((await h.deliveries()).length).toBe(1);
  });

  it('rough close puts running jobs back on the queue with the attempt counted', async () => {
    const { queue, start } = setup();
    let runs = 0;
    const job = queue.job({ name: 'interrupted', routes: ['foo'] }, async () => {
      runs += 1;
      if (runs === 1) await sleep(10_000);
      return runs;
    });
    const first = await start();
    const handle = await job.fire();
    await eventually(() => runs === 1, 'the first run');
    await first.close('rough');
    expect(await handle.state()).toBe('queued');
    await start();
    expect(await handle.result({ timeoutMs: 5_000 })).toBe(2);
    expect((await handle.info()).attempts).toBe(2);
  });

  it('validates its options', () => {
    expect(() => new WorkerPool({ queue: 'q', routes: [] })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'routes' } }));
    expect(() => new WorkerPool({ queue: 'q', routes: ['a'], concurrency: 0 })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new WorkerPool({ queue: 'q', routes: ['a'], concurrency: { b: 2 } })).toThrowError(/b/);
  });
});
