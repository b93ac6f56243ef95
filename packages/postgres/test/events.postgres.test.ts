import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '@skq/core';
import { eventually, missingPostgres, newJob, uniqueQueue, usePostgresServer } from '@skq/testing';
import { PostgresBackend } from '@skq/postgres';

const missing = missingPostgres();

describe.skipIf(missing)(`postgres events ${missing ?? ''}`, () => {
  const server = usePostgresServer();

  it('publishes the enqueue, claim and completion events of a queue only while a subscriber hears their type', async () => {
    const queue = uniqueQueue('heard');
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    // A bare LISTEN connection hears every notification of the schema's channel, and tells nobody it listens.
    const raw = new pg.Client(server().url);
    await raw.connect();
    const seen: string[] = [];
    let paused = 0;
    raw.on('notification', ({ payload }) => {
      for (const line of (payload ?? '').split('\n').slice(1)) {
        const [, type, of] = JSON.parse(line) as [number, string, string];
        if (of !== queue) continue;
        seen.push(type);
        if (type === 'paused') paused += 1;
      }
    });
    await raw.query('LISTEN skq_skunq');
    // Notifications reach a connection in commit order: a `paused` heard after a step means that step's
    // events, had there been any, came first.
    const mark = async () => {
      const before = paused;
      await backend.setPaused(queue, '*', true);
      await backend.setPaused(queue, '*', false);
      await eventually(() => paused > before, 'the mark', 5_000);
    };
    const run = async () => {
      const [job] = await backend.enqueue([newJob(queue, { routes: ['r'] })]);
      const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 10_000 });
      expect(deliveries.map((d) => d.jobId)).toEqual([job!.id]);
      await backend.complete(queue, { deliveryId: deliveries[0]!.id, workerId: 'w', attempt: 1 }, null);
      await mark();
    };
    try {
      // Nobody hears them: one job's enqueue, claim and completion publish nothing.
      await run();
      expect(seen.filter((t) => t !== 'paused' && t !== 'resumed')).toEqual([]);
      // A subscriber of the three: the next job's are published, before the mark.
      const heard: JobEvent['type'][] = [];
      const off = await backend.subscribe(queue, (event) => heard.push(event.type), ['enqueued', 'started', 'succeeded']);
      seen.length = 0;
      await run();
      expect(seen.filter((t) => t !== 'paused' && t !== 'resumed')).toEqual(['enqueued', 'started', 'succeeded']);
      expect(heard).toEqual(['enqueued', 'started', 'succeeded']);
      await off();
      // The table says until when each type is heard, by the server's clock, renewed while subscribed.
      const { rows } = await raw.query<{ type: string; ahead: boolean }>(
        `SELECT type, until > (extract(epoch from clock_timestamp()) * 1000)::bigint AS ahead FROM skunq.listeners WHERE queue = $1 ORDER BY type`,
        [queue],
      );
      expect(rows).toEqual([
        { type: 'enqueued', ahead: true },
        { type: 'started', ahead: true },
        { type: 'succeeded', ahead: true },
      ]);
    } finally {
      await raw.end();
      await backend.close();
    }
  });

  it('publishes the events of claims and completions of jobs whose ids are as long as allowed', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = uniqueQueue('long-ids');
    // 512 characters of three bytes each: the longest id in bytes; each event line carries it twice.
    const jobs = Array.from({ length: 12 }, (_, i) => newJob(queue, { id: `${i}`.padEnd(512, '€') }));
    await backend.enqueue(jobs);
    const heard: JobEvent[] = [];
    const off = await backend.subscribe(queue, (e) => heard.push(e), ['started', 'succeeded']);
    const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 12, leaseMs: 10_000 });
    expect(deliveries).toHaveLength(12);
    await Promise.all(deliveries.map((d) => backend.complete(queue, { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null)));
    await eventually(() => heard.length === 24, 'a started and a succeeded event per job', 5_000);
    expect(new Set(heard.map((e) => e.jobId))).toEqual(new Set(jobs.map((j) => j.id)));
    await off();
    await backend.close();
  });
});
