import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SkqError, type JobEvent } from '@skq/core';
import type { JobPosition } from '@skq/core/backend';
import { eventually, newJob, tempSqlite } from '@skq/testing';
import { SqliteBackend } from '../src/index.js';

const MB = 1024 * 1024;
const files: { remove(): void }[] = [];
afterEach(() => files.splice(0).forEach((f) => f.remove()));

function fresh(): { path: string; backend: SqliteBackend } {
  const file = tempSqlite('layout');
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
    expect(db.prepare('SELECT COUNT(*) AS n FROM skq_jobs WHERE state = 2').get()).toEqual({ n: 2 });
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
    const row = stored.prepare(`SELECT state, outcome FROM skq_jobs WHERE id = 'broken'`).get() as { state: number; outcome: string };
    stored.close();
    expect(row.state).toBe(3);
    expect(JSON.parse(row.outcome)).toMatchObject({ code: 'ARGS_INVALID', message: expect.stringContaining('job broken cannot be read from the store') });
    await backend.close();
  });
});

describe('SQLite layout version 4', () => {
  it('stores a direct job of one route as one row, and keeps the counts equal to the rows through every kind of step', async () => {
    const { path, backend } = fresh();
    const now = Date.now();
    await backend.enqueue([
      newJob('q', { id: 'one' }),
      newJob('q', { id: 'two' }),
      newJob('q', { id: 'later', runAt: now + 60_000 }),
      newJob('q', { id: 'both', routes: ['r', 'other'] }),
      newJob('q', { id: 'gone', options: { ...newJob('q').options, removeOnComplete: { count: 0, ageMs: null } } }),
    ]);
    const { deliveries } = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 4, leaseMs: 60_000 });
    const lease = (jobId: string) => {
      const d = deliveries.find((x) => x.jobId === jobId)!;
      return { deliveryId: d.id, workerId: 'w', attempt: d.attempts };
    };
    await backend.complete('q', lease('one'), 1);
    await backend.fail('q', lease('two'), { error: { name: 'Error', message: 'again' }, retryAt: now });
    await backend.complete('q', lease('gone'), null);
    await backend.cancel('q', 'both');
    await backend.retryJob('q', 'both', { runAt: now, attempts: 1 });
    await backend.recoverExpired('q', now + 120_000);
    await backend.removeJobs('q', ['one']);
    await backend.close();

    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT id, dix FROM skq_jobs ORDER BY id, dix').all();
    expect(rows).toEqual([
      { id: 'both', dix: 0 },
      { id: 'both', dix: 1 },
      { id: 'later', dix: 0 },
      { id: 'two', dix: 0 },
    ]);
    const kept = db.prepare('SELECT queue, route, state, n FROM skq_counts WHERE n <> 0 ORDER BY 1, 2, 3').all();
    const actual = db.prepare('SELECT queue, route, state, COUNT(*) AS n FROM skq_jobs WHERE dix >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3').all();
    expect(kept).toEqual(actual);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all()).toEqual([]);
    db.close();
  });

  it('tells another process of each change from the rows (the last change of each), and of notices in order', async () => {
    const { path, backend } = fresh();
    const seen: JobEvent[] = [];
    const unsubscribe = await backend.subscribe('q', (e) => seen.push(e));
    const other = new SqliteBackend({ path });
    await other.enqueue([newJob('q', { id: 'a' })]);
    await eventually(() => seen.some((e) => e.jobId === 'a' && e.type === 'enqueued'), 'the enqueue, read from the row');
    const [d] = (await other.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 })).deliveries;
    const lease = { deliveryId: d!.id, workerId: 'w', attempt: 1 };
    await eventually(() => seen.some((e) => e.type === 'started'), 'the start');
    await other.setProgress('q', lease, 10);
    await other.setProgress('q', lease, 20);
    await other.complete('q', lease, 'ok');
    await eventually(() => seen.some((e) => e.type === 'succeeded'), 'the end');
    expect(seen.filter((e) => e.type === 'progress').map((e) => e.data)).toEqual([10, 20]);
    const seqs = seen.map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(seen.find((e) => e.type === 'succeeded')).toMatchObject({ jobId: 'a', deliveryId: 'a.0', route: 'r', workerId: 'w' });
    await unsubscribe();
    await other.close();
    await backend.close();
  });

  it('moves a version-3 file made by the version-3 code, keeping every job as that code showed it', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures', 'v3');
    const file = tempSqlite('v3');
    files.push(file);
    const path = file.url.slice('sqlite:'.length);
    copyFileSync(join(fixtures, 'skunq-v3.db'), path);
    const answers = JSON.parse(readFileSync(join(fixtures, 'skunq-v3.json'), 'utf8')) as Record<string, { list: unknown; counts: unknown; paused: unknown }> & {
      logs: unknown;
      schedules: unknown;
      calls: unknown;
    };
    const backend = new SqliteBackend({ path });
    for (const queue of ['q', 'fan', 'other', 'empty']) {
      expect(await backend.listJobs({ queue, limit: 100 }), `jobs of ${queue}`).toEqual(answers[queue]!.list);
      expect(await backend.countByState(queue), `counts of ${queue}`).toEqual(answers[queue]!.counts);
      expect(await backend.pausedRoutes(queue)).toEqual(answers[queue]!.paused);
    }
    expect(await backend.getLogs('q', 'to-run')).toEqual(answers.logs);
    expect(await backend.listSchedules('q')).toEqual(answers.schedules);
    expect(await backend.listCallRecords('q', { limit: 10 })).toEqual(answers.calls);
    // It goes on working: the migrated jobs run, and a new one is counted with them.
    await backend.enqueue([newJob('q', { id: 'after', routes: ['main'] })]);
    const { deliveries } = await backend.claim({ queue: 'q', route: 'main', workerId: 'w9', limit: 10, leaseMs: 60_000 });
    expect(deliveries.map((d) => d.jobId)).toEqual(['urgent', 'queued-plain', 'deduped', 'after']);
    for (const d of deliveries) await backend.complete('q', { deliveryId: d.id, workerId: 'w9', attempt: d.attempts }, 'done');
    expect((await backend.countByState('q')).main).toMatchObject({ queued: 0, running: 2, succeeded: 7 });
    await backend.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT value FROM skq_meta WHERE key = 'schema_version'`).get()).toEqual({ value: '5' });
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name IN ('skq_deliveries', 'skq_state_counts', 'skq_jobs_v4')`).all()).toEqual([]);
    db.close();
  });

  it('moves a version-4 file made by the version-4 code to version 5: every job as that code showed it, and groups from then on', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures', 'v4');
    const file = tempSqlite('v4');
    files.push(file);
    const path = file.url.slice('sqlite:'.length);
    copyFileSync(join(fixtures, 'skunq-v4.db'), path);
    const answers = JSON.parse(readFileSync(join(fixtures, 'skunq-v4.json'), 'utf8')) as Record<string, { list: unknown; counts: unknown; paused: unknown }> & {
      logs: unknown;
      schedules: unknown;
      calls: unknown;
    };
    const backend = new SqliteBackend({ path });
    for (const queue of ['q', 'fan', 'other', 'empty']) {
      expect(await backend.listJobs({ queue, limit: 100 }), `jobs of ${queue}`).toEqual(answers[queue]!.list);
      expect(await backend.countByState(queue), `counts of ${queue}`).toEqual(answers[queue]!.counts);
      expect(await backend.pausedRoutes(queue)).toEqual(answers[queue]!.paused);
    }
    expect(await backend.getLogs('q', 'to-run')).toEqual(answers.logs);
    expect(await backend.listSchedules('q')).toEqual(answers.schedules);
    expect(await backend.listCallRecords('q', { limit: 10 })).toEqual(answers.calls);
    // The old jobs run in their order, a grouped job takes its turn among them.
    await backend.setGroupLimits('q', 'g', { concurrency: 1 });
    await backend.enqueue([newJob('q', { id: 'grouped-1', routes: ['main'], group: 'g' }), newJob('q', { id: 'grouped-2', routes: ['main'], group: 'g' })]);
    const { deliveries } = await backend.claim({ queue: 'q', route: 'main', workerId: 'w9', limit: 10, leaseMs: 60_000 });
    expect(deliveries.map((d) => d.jobId).sort()).toEqual(['deduped', 'grouped-1', 'queued-plain', 'urgent']);
    expect(deliveries.filter((d) => d.jobId !== 'grouped-1').map((d) => d.jobId)).toEqual(['urgent', 'queued-plain', 'deduped']);
    await backend.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT value FROM skq_meta WHERE key = 'schema_version'`).get()).toEqual({ value: '5' });
    // The queued index was made again for the jobs without a group, and the claim reads it.
    expect((db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'skq_jobs_queued'`).get() as { sql: string }).sql).toContain('grp IS NULL');
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT k FROM skq_jobs WHERE queue = 'q' AND route = 'main' AND state = 0 AND grp IS NULL AND priority = 0 AND run_at <= 1 ORDER BY run_at, k LIMIT 1`).all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join('; ')).toContain('USING INDEX skq_jobs_queued');
    db.close();
  });

  it('keeps a bounded number of finished jobs by default, and gives the pages it frees back to the file system', async () => {
    const file = tempSqlite('retention');
    files.push(file);
    const path = file.url.slice('sqlite:'.length);
    // The default is the newest 1,000 succeeded jobs; 20 here, set as a URL would, to keep the test short.
    const backend = new SqliteBackend(`sqlite:${path}?removeOnComplete=20`);
    const jobs = Array.from({ length: 400 }, (_, i) => newJob('q', { args: ['x'.repeat(400), i], options: { ...newJob('q').options } }));
    await backend.enqueue(jobs);
    const kept = async () => (await backend.countByState('q')).r!.succeeded;
    for (;;) {
      const { deliveries } = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 50, leaseMs: 60_000 });
      if (deliveries.length === 0) break;
      await Promise.all(deliveries.map((d) => backend.complete('q', { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null)));
    }
    // Trimmed every 1 + 20/10 endings: at most 10 % over.
    expect(await kept()).toBeGreaterThanOrEqual(20);
    expect(await kept()).toBeLessThanOrEqual(22);
    await backend.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    expect(db.pragma('freelist_count', { simple: true })).toBeLessThanOrEqual(64);
    db.close();

    const everything = new SqliteBackend({ path, removeOnComplete: false });
    await everything.enqueue(Array.from({ length: 30 }, () => newJob('all')));
    for (;;) {
      const { deliveries } = await everything.claim({ queue: 'all', route: 'r', workerId: 'w', limit: 50, leaseMs: 60_000 });
      if (deliveries.length === 0) break;
      await Promise.all(deliveries.map((d) => everything.complete('all', { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null)));
    }
    expect((await everything.countByState('all')).r!.succeeded).toBe(30);
    await everything.close();
  });

  it('claims more than one read takes (1,024 rows) in order, priority by priority', async () => {
    const { backend } = fresh();
    const at = Date.now() - 60_000;
    const low = Array.from({ length: 1_100 }, (_, i) => newJob('q', { priority: 0, runAt: at + i }));
    const high = Array.from({ length: 30 }, (_, i) => newJob('q', { priority: 5, runAt: at + i }));
    await backend.enqueue([...low, ...high]);
    const { deliveries } = await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1_100, leaseMs: 60_000 });
    expect(deliveries.map((d) => d.jobId)).toEqual([...high, ...low.slice(0, 1_070)].map((j) => j.id));
    expect((await backend.countByState('q')).r).toMatchObject({ running: 1_100, queued: 30 });
    await backend.close();
  });

  it('refuses a stale completion whose row was deleted and its key taken by a job the same worker now holds', async () => {
    const { path, backend } = fresh();
    await backend.enqueue([newJob('q', { id: 'gone' })]);
    const first = (await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1, leaseMs: 1 })).deliveries[0]!;
    // Its lease ends, it is recovered and removed, and the next job gets its row key (the highest, freed).
    expect(await backend.recoverExpired('q', Date.now() + 60_000)).toBe(1);
    expect(await backend.removeJobs('q', ['gone'])).toEqual(['gone']);
    await backend.enqueue([newJob('q', { id: 'next' })]);
    const next = (await backend.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 })).deliveries[0]!;
    expect(next.attempts).toBe(first.attempts);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT id, k FROM skq_jobs').all()).toEqual([{ id: 'next', k: 1 }]);
    db.close();
    const stale = backend.complete('q', { deliveryId: first.id, workerId: 'w', attempt: first.attempts }, null);
    await expect(stale).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect((await backend.getJob('q', 'next'))!.deliveries[0]!.state).toBe('running');
    await backend.complete('q', { deliveryId: next.id, workerId: 'w', attempt: next.attempts }, null);
    expect((await backend.countByState('q')).r).toMatchObject({ running: 0, succeeded: 1 });
    await backend.close();
  });

  it('answers an id sent twice in one bulk enqueue as stored the second time, counted once', async () => {
    const { backend } = fresh();
    const job = newJob('q', { id: 'twice' });
    const results = await backend.enqueue([newJob('q'), job, newJob('q'), { ...job, args: ['other'] }, newJob('q')]);
    expect(results.map((r) => r.deliveries)).toEqual([1, 1, 1, 1, 1]);
    expect(results[3]).toEqual({ id: 'twice', deduped: false, deliveries: 1 });
    expect((await backend.countByState('q')).r!.queued).toBe(4);
    expect((await backend.getJob('q', 'twice'))!.args).toEqual(job.args);
    await backend.close();
  });

  it('makes a listing index made newest first again in insert order, and lists and pages the same', async () => {
    const { path, backend } = fresh();
    const at = Date.now();
    // Jobs of one millisecond and of several: the keyset pages through both.
    const jobs = Array.from({ length: 30 }, (_, i) => newJob('q', { createdAt: at + Math.floor(i / 10) }));
    await backend.enqueue(jobs);
    await backend.close();
    const db = new Database(path);
    db.exec('DROP INDEX skq_jobs_listing; CREATE INDEX skq_jobs_listing ON skq_jobs (queue, created_at DESC, id DESC) WHERE dix <= 0');
    db.close();
    const reopened = new SqliteBackend({ path });
    const check = new Database(path, { readonly: true });
    const sql = (check.prepare(`SELECT sql FROM sqlite_master WHERE name = 'skq_jobs_listing'`).get() as { sql: string }).sql;
    expect(sql).not.toContain('DESC');
    const plan = check.prepare(`EXPLAIN QUERY PLAN SELECT id FROM skq_jobs WHERE queue = 'q' AND dix <= 0 ORDER BY created_at DESC, id DESC LIMIT 5`).all() as { detail: string }[];
    check.close();
    expect(plan.map((p) => p.detail).join(' ')).not.toMatch(/TEMP B-TREE/);
    const newestFirst = [...jobs].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((j) => j.id);
    const seen: string[] = [];
    for (let after: JobPosition | null = null; ; ) {
      const page = await reopened.listJobs({ queue: 'q', after, limit: 7 });
      seen.push(...page.map((j) => j.id));
      if (page.length < 7) break;
      after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
    }
    expect(seen).toEqual(newestFirst);
    await reopened.close();
  });

  it('refuses a file of a newer skunq, saying which version', async () => {
    const { path, backend } = fresh();
    await backend.close();
    const db = new Database(path);
    db.prepare(`UPDATE skq_meta SET value = '6' WHERE key = 'schema_version'`).run();
    db.close();
    expect(() => new SqliteBackend({ path })).toThrow(/schema version 6, made by a newer skunq; this one reads up to version 5/);
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

  it('cuts its WAL file back to 4 MB once a reader that held back every checkpoint lets go', async () => {
    const { path, backend } = fresh();
    const walSize = () => statSync(`${path}-wal`).size;
    const padding = 'x'.repeat(4_000);
    const write = () => backend.enqueue(Array.from({ length: 100 }, () => newJob('q', { args: [padding] })));
    await write();
    // Another connection's open read: no checkpoint can pass its snapshot, so the log cannot restart.
    const reader = new Database(path, { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) FROM skq_jobs').get();
    for (let i = 0; i < 100 && walSize() < 12 * MB; i++) await write();
    expect(walSize()).toBeGreaterThanOrEqual(12 * MB);
    reader.exec('COMMIT');
    reader.close();
    // The next commit checkpoints the whole log, and a write after that restarts it, cut back to the limit.
    for (let i = 0; i < 10 && walSize() > 4 * MB; i++) await write();
    expect(walSize()).toBeLessThanOrEqual(4 * MB);
    await backend.close();
  });
});
