import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SkqError, SkunkQueue } from '@skq/core';
import { tempSqlite } from '@skq/testing';

const store = tempSqlite('operations-input');
const queue = new SkunkQueue('ops-input', { backend: store.url });
const job = queue.job({ name: 'noop', routes: ['r'] }, async () => 1);
afterAll(async () => {
  await queue.close();
  store.remove();
});

/** The code and message of what a call rejects with. */
async function refusal(call: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call();
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('did not throw');
}

describe('operating a queue: bad input and wrong states are typed errors that say what was wrong', () => {
  it('refuses bad arguments with ARGS_INVALID', async () => {
    const cases: [string, () => Promise<unknown>, string][] = [
      ['retry("")', () => queue.retry(''), 'jobId'],
      ['list limit 0', () => queue.list({ limit: 0 }), 'query.limit'],
      ['list bad state', () => queue.list({ state: 'done' as never }), 'query.state'],
      ['list unknown filter', () => queue.list({ offset: 3 } as never), 'offset'],
      ['list forged cursor', () => queue.list({ cursor: 'eyJhIjoxfQ' }), 'cursor'],
      ['retryAll running', () => queue.retryAll({ state: 'running' as never }), 'query.state'],
      ['clean without state', () => queue.clean({} as never), 'query.state'],
      ['clean negative age', () => queue.clean({ state: 'succeeded', olderThan: -5 }), 'query.olderThan'],
      ['pause bad route', () => queue.pause('no spaces'), 'route'],
      ['commandWorker unknown command', () => queue.commandWorker('w', 'explode' as never), 'command'],
      ['on unknown event', () => queue.on('exploded' as never, () => {}), 'type'],
      ['metrics 0 minutes', () => queue.metrics({ minutes: 0 }), 'minutes'],
      ['metrics too far back', () => queue.metrics({ minutes: 24 * 60 + 1 }), 'minutes'],
      ['records bad limit', () => queue.records({ limit: -1 }), 'limit'],
    ];
    for (const [what, call, field] of cases) {
      const { code, message } = await refusal(call);
      expect({ what, code }).toEqual({ what, code: 'ARGS_INVALID' });
      expect(message, what).toContain(field);
    }
    expect(() => queue.asEvent(42 as never)).toThrow(expect.objectContaining({ code: 'ARGS_INVALID' }));
    expect(() => queue.asEvent(() => 1, { echo: 'stdout' as never })).toThrow(expect.objectContaining({ code: 'ARGS_INVALID' }));
    await expect(queue.push(job.with(), { removeOnComplete: -1 })).rejects.toMatchObject({ code: 'ARGS_INVALID' });
    expect(() => new SkunkQueue('ops-input', { removeOnFail: 'yes' as never })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuses schedule ids and forged cursors a store cannot take with ARGS_INVALID, not a driver error', async () => {
    const forged = (position: unknown[]) => Buffer.from(JSON.stringify(position)).toString('base64url');
    const cases: [string, () => Promise<unknown>, string][] = [
      ['pauseSchedule(42)', () => queue.pauseSchedule(42 as never), 'id'],
      ['pauseSchedule({})', () => queue.pauseSchedule({} as never), 'id'],
      ['pauseSchedule(id, "yes")', () => queue.pauseSchedule('s', 'yes' as never), 'paused'],
      ['removeSchedule(null)', () => queue.removeSchedule(null as never), 'id'],
      ['removeSchedule("")', () => queue.removeSchedule(''), 'id'],
      ['cursor at 1.5 ms', () => queue.list({ cursor: forged([1.5, 'x']) }), 'cursor'],
      ['cursor past the safe integers', () => queue.list({ cursor: forged([2 ** 60, 'x']) }), 'cursor'],
      ['cursor with an empty id', () => queue.list({ cursor: forged([Date.now(), '']) }), 'cursor'],
    ];
    for (const [what, call, field] of cases) {
      const got = await refusal(call);
      expect({ what, code: got.code }).toEqual({ what, code: 'ARGS_INVALID' });
      expect(got.message, what).toContain(field);
    }
    expect(await refusal(() => queue.pauseSchedule('no-such-schedule'))).toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('checks schedule ids, paused, job ids and result() options with zod schemas: the refusal names the field and carries zod\'s issues', async () => {
    const waiting = await job.fireWith({ at: { hours: 1 } });
    const cases: [string, () => Promise<unknown>, string, RegExp][] = [
      ['pauseSchedule(id, "yes")', () => queue.pauseSchedule('s', 'yes' as never), 'paused', /^invalid paused: /],
      ['removeSchedule(513 chars)', () => queue.removeSchedule('x'.repeat(513)), 'id', /^invalid schedule id: id: /],
      ['pauseSchedule(42)', () => queue.pauseSchedule(42 as never), 'id', /^invalid schedule id: id: /],
      ['logs(42)', () => queue.logs(42 as never), 'jobId', /^invalid job id: jobId: /],
      ['result() with an unknown option', () => waiting.result({ timeoutMs: 0, timeout: 5 } as never), 'options', /^invalid result\(\) options: .*timeout/],
      ['result([])', () => waiting.result([] as never), 'options', /^invalid result\(\) options: /],
    ];
    for (const [what, call, field, message] of cases) {
      const err = await call().then(() => 'did not throw', (e: unknown) => e);
      expect(err instanceof SkqError ? { what, code: err.code, field: err.context.field, zod: err.cause instanceof z.ZodError } : { what, err: String(err) }).toEqual({ what, code: 'ARGS_INVALID', field, zod: true });
      expect((err as Error).message, what).toMatch(message);
    }
  });

  it('refuses job ids that links, the CLI or live updates could not address, naming the id', async () => {
    for (const jobId of ['.', '..', '-rf', '--help', 'a,b', ',', 'line\nbreak', 'tab\there', 'csi\u009b31m', 'esc\u001b[2J', 'del\u007f']) {
      const got = await refusal(() => job.fireWith({ jobId }));
      expect({ jobId, code: got.code }).toEqual({ jobId, code: 'ARGS_INVALID' });
      expect(got.message, jobId).toContain(JSON.stringify(jobId));
      expect(await queue.getRecord(jobId)).toBeNull();
    }
    for (const jobId of ['order-1', 'a.b', '...', 'x-', 'order:42/part', 'order|42', '100%', 'naïve-é']) {
      expect((await job.fireWith({ jobId })).id).toBe(jobId);
    }
  });

  it('names unknown jobs and workers, and the state a job was in', async () => {
    expect(await refusal(() => queue.retry('nope'))).toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await refusal(() => queue.remove('nope'))).toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await refusal(() => queue.commandWorker('nobody', 'stop'))).toMatchObject({ code: 'WORKER_NOT_FOUND' });
    const waiting = await job.fire();
    expect(await refusal(() => queue.retry(waiting.id))).toEqual({ code: 'INVALID_STATE', message: `job ${waiting.id} is queued and cannot be retried: only failed or cancelled jobs can` });
    expect(await refusal(() => queue.promote(waiting.id))).toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('is queued') });
    expect(await refusal(() => queue.clean({ state: 'running' }))).toMatchObject({ code: 'INVALID_STATE' });
    const later = await queue.push(job.with(), { at: { hours: 1 } });
    await queue.reschedule(later.id, { hours: 2 });
    await queue.reschedule(later.id); // now + the delay it was fired with
    const runAt = (await later.info()).deliveries[0]!.runAt;
    expect(runAt).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(runAt).toBeLessThan(Date.now() + 61 * 60_000);
    await queue.promote(later.id);
    expect(await later.state()).toBe('queued');
  });

  it('pauses and resumes, and a worker registration it cannot find is not a silent no-op', async () => {
    await queue.pause('r');
    expect(await queue.isPaused('r')).toBe(true);
    expect(await queue.isPaused()).toBe(false);
    await queue.pause();
    expect(await queue.isPaused()).toBe(true);
    expect(await queue.pausedRoutes()).toEqual(['*', 'r']);
    await queue.resume();
    await queue.resume('r');
    expect(await queue.pausedRoutes()).toEqual([]);
  });

  it('streams events until the signal aborts', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of queue.events({ types: ['enqueued'], signal: controller.signal })) {
        seen.push(e.jobId!);
        if (seen.length === 2) controller.abort();
      }
    })();
    // The stream subscribes when first read: fire until two events have come through.
    const fired: string[] = [];
    while (seen.length < 2) {
      fired.push((await job.fire()).id);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await reading;
    expect(fired).toEqual(expect.arrayContaining(seen));
  });
});
