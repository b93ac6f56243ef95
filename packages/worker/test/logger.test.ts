import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SkqError } from '@skq/core';
import { eventually } from '@skq/testing';
import { sqliteQueues } from './fixtures/sqlite-queues.js';

const fixture = sqliteQueues('logger');

describe('a pool given pino as its logger', () => {
  it('hands pino the warning with its ids and the error, code, context, cause and stack', async () => {
    const queue = fixture.queue();
    const records: Record<string, unknown>[] = [];
    const logger = pino({ base: null, timestamp: false }, { write: (chunk: string) => records.push(JSON.parse(chunk) as Record<string, unknown>) });
    const job = queue.job({ name: 'counted', routes: ['r'] }, async () => 'done');
    const listenerFailure = new SkqError('BACKEND_ERROR', 'the metrics sink is full', { cause: new Error('ENOSPC'), context: { sink: 'prometheus' } });
    const pool = await fixture.startPool({
      queue,
      routes: ['r'],
      pollIntervalMs: 100,
      logger,
      onAttemptEnd: () => {
        throw listenerFailure;
      },
    });
    const handle = await job.fire();
    expect(await handle.result({ timeoutMs: 10_000 })).toBe('done');
    await eventually(() => records.length > 0, 'the warning logged', 10_000);
    const [record] = records;
    expect(record).toMatchObject({
      level: 40,
      msg: 'an onAttemptEnd listener threw',
      queue: queue.name,
      route: 'r',
      workerId: pool.workerIds[0],
      jobId: handle.id,
      deliveryId: expect.stringContaining(handle.id),
      err: {
        type: 'SkqError',
        // pino's error serializer appends the causes' messages, and their stacks to the stack.
        message: 'the metrics sink is full: ENOSPC',
        code: 'BACKEND_ERROR',
        context: { sink: 'prometheus' },
        stack: expect.stringContaining('SkqError: the metrics sink is full\n    at '),
      },
    });
    expect((record!.err as { stack: string }).stack).toContain('caused by: Error: ENOSPC');
  });
});
