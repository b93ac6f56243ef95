import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SkqError, type JobEvent } from '@skq/core';
import { eventually, newJob, tempSqlite } from '@skq/testing';
import { SqliteBackend } from '../src/index.js';

const files: { remove(): void }[] = [];
afterEach(() => files.splice(0).forEach((f) => f.remove()));

function fresh(): { path: string; backend: SqliteBackend } {
  const file = tempSqlite('lean');
  files.push(file);
  const path = file.url.slice('sqlite:'.length);
  return { path, backend: new SqliteBackend({ path }) };
}

describe('SQLite group commit', () => {
  it('commits the writes of one event-loop turn together, and a step that throws undoes only itself', async () => {
    const { path, backend } = fresh();
    await backend.enqueue([newJob('q'), newJob('q')]);
    const claimed = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 2, leaseMs: 60_000 });
    const [a, b] = claimed.deliveries.map((d) => ({ deliveryId: d.id, workerId: 'w', attempt: d.attempts }));
    // Same turn: a good completion, one with a stale lease, and another good one.
    const outcomes = await Promise.allSettled([
      backend.complete('q', a!, { ok: 1 }),
      backend.complete('q', { ...b!, attempt: 99 }, null),
      backend.complete('q', b!, { ok: 2 }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as SkqError).code).toBe('LEASE_LOST');
    const counts = await backend.countByState('q');
    expect(counts.r).toMatchObject({ succeeded: 2, running: 0, queued: 0 });
    await backend.close();
    // Committed for another connection too.
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM skq_deliveries WHERE state = 'succeeded'`).get()).toEqual({ n: 2 });
    db.close();
  });

  it('settles every pending write before close returns', async () => {
    const { path, backend } = fresh();
    const pending = backend.enqueue([newJob('q')]);
    await backend.close();
    await expect(pending).resolves.toHaveLength(1);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM skq_jobs').get()).toEqual({ n: 1 });
    db.close();
  });
});

describe('SQLite stored records that cannot be read', () => {
  it('fail the delivery at claim with the reason recorded, and the deliveries behind it still run', async () => {
    const { path, backend } = fresh();
    await backend.enqueue([newJob('q', { id: 'broken' }), newJob('q', { id: 'fine', args: [2] })]);
    const db = new Database(path);
    db.prepare(`UPDATE skq_jobs SET args = '{not json' WHERE id = 'broken'`).run();
    db.close();
    const { deliveries } = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 2, leaseMs: 60_000 });
    expect(deliveries.map((d) => [d.jobId, d.args])).toEqual([['fine', [2]]]);
    const counts = (await backend.countByState('q')).r;
    expect(counts).toMatchObject({ failed: 1, running: 1, queued: 0 });
    const stored = new Database(path, { readonly: true });
    const row = stored.prepare(`SELECT state, error FROM skq_deliveries WHERE job_id = 'broken'`).get() as { state: string; error: string };
    stored.close();
    expect(row.state).toBe('failed');
    expect(JSON.parse(row.error)).toMatchObject({ code: 'ARGS_INVALID', message: expect.stringContaining('job broken cannot be read from the store') });
    await backend.close();
  });
});

describe('SQLite layout version 3', () => {
  it('moves a version-2 file: old indexes dropped, state counts filled from its deliveries and kept from then on', async () => {
    const { path, backend } = fresh();
    await backend.enqueue([newJob('q'), newJob('q'), newJob('q', { routes: ['other'] }), newJob('q', { runAt: Date.now() + 60_000 })]);
    const { deliveries } = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 });
    await backend.complete('q', { deliveryId: deliveries[0]!.id, workerId: 'w', attempt: 1 }, null);
    await backend.close();

    // Make it look like a file written by version 2: its indexes, no counts table, no triggers.
    const db = new Database(path);
    db.exec(`DROP TRIGGER skq_count_added; DROP TRIGGER skq_count_moved; DROP TRIGGER skq_count_removed; DROP TABLE skq_state_counts;
      CREATE INDEX skq_deliveries_claim ON skq_deliveries (queue, route, state, priority DESC, run_at);
      CREATE INDEX skq_deliveries_by_job ON skq_deliveries (job_id);
      CREATE INDEX skq_deliveries_leases ON skq_deliveries (queue, state, lease_until);
      CREATE INDEX skq_events_by_queue ON skq_events (queue, seq);`);
    db.close();

    const reopened = new SqliteBackend({ path });
    expect((await reopened.countByState('q'))).toMatchObject({
      r: { queued: 1, scheduled: 1, running: 0, succeeded: 1 },
      other: { queued: 1 },
    });
    await reopened.enqueue([newJob('q')]);
    expect((await reopened.countByState('q')).r).toMatchObject({ queued: 2, scheduled: 1 });
    await reopened.close();
    const check = new Database(path, { readonly: true });
    const indexes = (check.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'skq_%'`).all() as { name: string }[]).map((r) => r.name);
    expect(indexes).not.toContain('skq_deliveries_claim');
    expect(indexes).not.toContain('skq_deliveries_by_job');
    expect(indexes).toEqual(expect.arrayContaining(['skq_deliveries_queued', 'skq_deliveries_running']));
    check.close();
  });

  it('claims priority by priority, due deliveries first, and names the next run time behind them', async () => {
    const { backend } = fresh();
    const now = Date.now();
    await backend.enqueue([
      newJob('q', { id: 'late-high', priority: 5, runAt: now + 60_000 }),
      newJob('q', { id: 'low', priority: -1, runAt: now - 10 }),
      newJob('q', { id: 'high-2', priority: 5, runAt: now - 5 }),
      newJob('q', { id: 'high-1', priority: 5, runAt: now - 20 }),
      newJob('q', { id: 'mid', priority: 0, runAt: now - 30 }),
      newJob('q', { id: 'late-low', priority: -1, runAt: now + 30_000 }),
    ]);
    const first = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 3, leaseMs: 60_000, now });
    expect(first.deliveries.map((d) => d.jobId)).toEqual(['high-1', 'high-2', 'mid']);
    const rest = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 3, leaseMs: 60_000, now });
    expect(rest.deliveries.map((d) => d.jobId)).toEqual(['low']);
    expect(rest.nextRunAt).toBe(now + 30_000);
    await backend.close();
  });

  it('finds the deliveries of a job whose id is a prefix of another job id with a dot', async () => {
    const { backend } = fresh();
    await backend.enqueue([newJob('q', { id: 'a' }), newJob('q', { id: 'a.0' }), newJob('q', { id: 'a.0.1' })]);
    for (const id of ['a', 'a.0', 'a.0.1']) {
      const job = await backend.getJob('q', id);
      expect(job?.deliveries.map((d) => d.id)).toEqual([`${id}.0`]);
    }
    expect(await backend.removeJobs('q', ['a.0'])).toEqual(['a.0']);
    expect((await backend.getJob('q', 'a'))?.deliveries).toHaveLength(1);
    expect((await backend.getJob('q', 'a.0.1'))?.deliveries).toHaveLength(1);
    await backend.close();
  });

  it('wakes a subscriber of a quiet queue after a busy queue wrote past the read batch', async () => {
    const { path, backend } = fresh();
    const seen: JobEvent[] = [];
    const unsubscribe = await backend.subscribe('quiet', (e) => seen.push(e), ['enqueued']);
    const other = new SqliteBackend({ path });
    for (let i = 0; i < 3; i += 1) await other.enqueue(Array.from({ length: 400 }, () => newJob('busy')));
    await other.enqueue([newJob('quiet', { id: 'wanted' })]);
    await eventually(() => seen.some((e) => e.jobId === 'wanted'), 'the quiet queue event');
    expect(seen.every((e) => e.queue === 'quiet' && e.type === 'enqueued')).toBe(true);
    await unsubscribe();
    await other.close();
    await backend.close();
  });
});

describe('SQLite durability', () => {
  it('reads back WAL and synchronous=NORMAL from its own connection, and a memory journal for :memory:', async () => {
    const { backend } = fresh();
    expect(backend.durability()).toEqual({ journalMode: 'wal', synchronous: 'NORMAL' });
    await backend.close();
    const memory = new SqliteBackend({ path: ':memory:' });
    expect(memory.durability()).toEqual({ journalMode: 'memory', synchronous: 'NORMAL' });
    await memory.close();
  });
});
