import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkqError, SkunkQueue } from '@skq/core';
import { DEFAULT_RUN_OPTIONS } from '@skq/core/backend';
import type { JobEvent } from '@skq/core';
import { eventually, missingPostgres, newJob, uniqueQueue, usePostgresServer } from '@skq/testing';
import { PostgresBackend } from '@skq/postgres';
import { SCHEMA_V1_SQL } from '../src/schema.js';
import { SQL } from '../src/sql-text.js';

const missing = missingPostgres();

/**
 * Enqueues `jobs` (each with route 'r'), hears their `succeeded` events and claims them all on route 'r' as
 * worker 'w': the events heard, the unsubscribe, and each job's lease by its id.
 */
async function claimedAndHeard(backend: PostgresBackend, queue: string, jobs: ReturnType<typeof newJob>[]) {
  await backend.enqueue(jobs);
  const heard: JobEvent[] = [];
  const off = await backend.subscribe(queue, (e) => heard.push(e), ['succeeded']);
  const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 10_000 });
  expect(deliveries).toHaveLength(jobs.length);
  const lease = (jobId: string) => {
    const d = deliveries.find((one) => one.jobId === jobId)!;
    return { deliveryId: d.id, workerId: 'w', attempt: d.attempts };
  };
  return { heard, off, lease };
}

describe.skipIf(missing)(`postgres schema and transactional enqueue ${missing ?? ''}`, () => {
  const server = usePostgresServer();
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client(server().url);
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });

  it('creates a new schema once when processes connect at the same moment', async () => {
    const backends = await Promise.all(Array.from({ length: 4 }, () => PostgresBackend.connect({ url: server().url, schema: 'racing', logger: false })));
    const { rows } = await admin.query(`SELECT value FROM racing.meta WHERE key = 'schema_version'`);
    expect(rows).toEqual([{ value: '6' }]);
    // Each backend can use it: a job enqueued by one is claimed by another.
    const queue = uniqueQueue('racing');
    const [stored] = await backends[0]!.enqueue([newJob(queue, { routes: ['r'] })]);
    const { deliveries } = await backends[3]!.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 10_000 });
    expect(deliveries.map((d) => d.jobId)).toEqual([stored!.id]);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('migrates a schema of version 1 in place (through versions 2 to 6), keeping its jobs and their order, and groups work after', async () => {
    // Version 1 as the first release made it, with a queued job and a succeeded one.
    await admin.query('CREATE SCHEMA v1');
    await admin.query(SCHEMA_V1_SQL.replaceAll('{s}', 'v1'));
    await admin.query(`CREATE TABLE v1.meta (key text PRIMARY KEY, value text NOT NULL); INSERT INTO v1.meta VALUES ('schema_version', '1')`);
    const insert = `INSERT INTO v1.jobs (id, dix, queue, route, name, args, priority, created_at, state, run_at, max_attempts, attempts, finished_at, outcome, ended_at, ended_bad)
      VALUES ($1, 0, 'old', 'r', 'noop', '[]', 0, 1, $2, 1, 1, $3, $4, $5, $6, $7)`;
    await admin.query(insert, ['waiting', 0, 0, null, null, null, null]);
    await admin.query(insert, ['done', 2, 1, 2, '"ok"', 2, false]);
    const backend = await PostgresBackend.connect({ url: server().url, schema: 'v1', logger: false });
    expect((await admin.query(`SELECT value FROM v1.meta WHERE key = 'schema_version'`)).rows).toEqual([{ value: '6' }]);
    const key = await admin.query(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'v1.jobs'::regclass AND indisprimary`);
    expect(key.rows[0].def).toContain('(id, dix)');
    expect(await backend.getJob('old', 'done')).toMatchObject({ state: 'succeeded', deliveries: [{ result: 'ok' }] });
    // Row keys carry over, and new rows are numbered after them: the claim takes the old job first.
    await backend.enqueue([newJob('old', { id: 'after', runAt: 1, createdAt: 1 })]);
    expect((await admin.query(`SELECT id, k::int FROM v1.jobs ORDER BY k`)).rows).toEqual([{ id: 'waiting', k: 1 }, { id: 'done', k: 2 }, { id: 'after', k: 3 }]);
    const { deliveries } = await backend.claim({ queue: 'old', route: 'r', workerId: 'w', limit: 1, leaseMs: 10_000 });
    expect(deliveries.map((d) => d.jobId)).toEqual(['waiting']);
    await backend.complete('old', { deliveryId: deliveries[0]!.id, workerId: 'w', attempt: 1 }, 'new');
    expect(await backend.getJob('old', 'waiting')).toMatchObject({ state: 'succeeded', deliveries: [{ result: 'new' }] });
    // Version 4: grouped jobs take turns with the old ones, under their limits.
    await backend.setGroupLimits('old', 'g', { concurrency: 1 });
    await backend.enqueue([newJob('old', { id: 'g1', group: 'g' }), newJob('old', { id: 'g2', group: 'g' })]);
    const turns = await backend.claim({ queue: 'old', route: 'r', workerId: 'w', limit: 5, leaseMs: 10_000 });
    expect(turns.deliveries.map((d) => d.jobId).sort()).toEqual(['after', 'g1']);
    expect(turns.limited).toBe(true);
    await backend.close();
  });

  it('refuses a schema made by a newer skunq, and leaves it untouched', async () => {
    await (await PostgresBackend.connect({ url: server().url, schema: 'newer', logger: false })).close();
    await admin.query(`UPDATE newer.meta SET value = '99' WHERE key = 'schema_version'`);
    const refused = await PostgresBackend.connect({ url: server().url, schema: 'newer', logger: false }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SkqError);
    expect(refused).toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('made by a newer skunq') });
    expect((await admin.query(`SELECT value FROM newer.meta WHERE key = 'schema_version'`)).rows).toEqual([{ value: '99' }]);
  });

  it('enqueues in the caller\'s transaction: invisible and unheard until commit, gone on rollback', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const other = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = uniqueQueue('tx');
    const heard: JobEvent[] = [];
    const off = await other.subscribe(queue, (e) => heard.push(e), ['enqueued']);
    const client = new pg.Client(server().url);
    await client.connect();

    await client.query('BEGIN');
    const rolledBack = newJob(queue, { routes: ['r'] });
    await backend.enqueue([rolledBack], { transaction: client });
    expect(await other.getJob(queue, rolledBack.id)).toBeNull();
    await client.query('ROLLBACK');
    expect(await other.getJob(queue, rolledBack.id)).toBeNull();

    await client.query('BEGIN');
    const committed = newJob(queue, { routes: ['r'] });
    await backend.enqueue([committed], { transaction: client });
    expect(await other.getJob(queue, committed.id)).toBeNull();
    expect(heard).toEqual([]);
    await client.query('COMMIT');
    expect(await other.getJob(queue, committed.id)).toMatchObject({ id: committed.id, state: 'queued' });
    await eventually(() => heard.length === 1, 'the enqueued event, heard at commit', 5_000);
    // Only the committed job was ever announced.
    expect(heard.map((e) => e.jobId)).toEqual([committed.id]);

    await off();
    await client.end();
    await Promise.all([backend.close(), other.close()]);
  });

  it('rolls back only its own batch when it refuses one inside the caller\'s transaction', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const [queueA, queueB] = [uniqueQueue('tx-a'), uniqueQueue('tx-b')];
    const taken = newJob(queueA, { routes: ['r'] });
    await backend.enqueue([taken]);
    const client = new pg.Client(server().url);
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS tx_orders (id text PRIMARY KEY)');
    await client.query('BEGIN');
    await client.query(`INSERT INTO tx_orders (id) VALUES ('order-1')`);
    const fresh = newJob(queueB, { routes: ['r'] });
    const refused = await backend.enqueue([fresh, { ...newJob(queueB, { routes: ['r'] }), id: taken.id }], { transaction: client }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'ID_CONFLICT' });
    await client.query('COMMIT');
    // The caller's own write committed; none of the refused batch did.
    expect((await client.query(`SELECT id FROM tx_orders`)).rows).toEqual([{ id: 'order-1' }]);
    expect(await backend.getJob(queueB, fresh.id)).toBeNull();
    await client.end();
    await backend.close();
  });

  it('takes `tx` from fire options through the queue, and refuses what is not a client', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = new SkunkQueue(uniqueQueue('tx-queue'), { backend });
    const job = queue.job({ name: 'noop', routes: ['r'] }, async (n: number) => n);
    const client = new pg.Client(server().url);
    await client.connect();
    await client.query('BEGIN');
    const handle = await job.fireWith({ tx: client }, 1);
    await client.query('ROLLBACK');
    await expect(handle.info()).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(job.fireWith({ tx: {} as never }, 2)).rejects.toMatchObject({ code: 'ARGS_INVALID', context: { field: 'options.tx' } });
    await client.end();
    await queue.close();
    await backend.close();
  });

  it('skips the rows other claims hold, and still takes as many free ones as it asks for', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = uniqueQueue('skip-locked');
    await backend.enqueue(Array.from({ length: 40 }, () => newJob(queue, { routes: ['r'] })));
    // Another claim in flight, holding the first 20 due rows until it commits.
    const holder = new pg.Client(server().url);
    await holder.connect();
    await holder.query('BEGIN');
    const held = (await holder.query<{ id: string }>('SELECT id FROM skunq.jobs WHERE queue = $1 ORDER BY k LIMIT 20 FOR UPDATE', [queue])).rows.map((r) => r.id);
    // A short answer would tell the worker that the queue is drained, and it would sleep while 20 jobs wait.
    const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 10_000 });
    expect(deliveries).toHaveLength(10);
    expect(deliveries.filter((d) => held.includes(d.jobId))).toEqual([]);
    await holder.query('ROLLBACK');
    await holder.end();
    await backend.close();
  });

  it('completes in one turn jobs of one delivery, of several, and with a retention of their own, and refuses a stale lease', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = uniqueQueue('mixed-completions');
    const single = newJob(queue, { routes: ['r'] });
    const twoRoutes = newJob(queue, { routes: ['r', 's'] });
    const removed = newJob(queue, { routes: ['r'], options: { ...DEFAULT_RUN_OPTIONS, removeOnComplete: { count: 0, ageMs: null } } });
    const { heard, off, lease } = await claimedAndHeard(backend, queue, [single, twoRoutes, removed]);
    // Asked for in one turn of the event loop: they share a group.
    const outcomes = await Promise.allSettled([
      backend.complete(queue, lease(single.id), 'one'),
      backend.complete(queue, lease(twoRoutes.id), 'two'),
      backend.complete(queue, lease(removed.id), 'gone'),
      backend.complete(queue, { ...lease(single.id), attempt: 2 }, 'stale'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'LEASE_LOST' });
    expect(await backend.getJob(queue, single.id)).toMatchObject({ state: 'succeeded', deliveries: [{ result: 'one' }] });
    // Its other route still waits: the job is not ended.
    const two = await backend.getJob(queue, twoRoutes.id);
    expect(two!.deliveries.map((d) => [d.route, d.state])).toEqual([['r', 'succeeded'], ['s', 'queued']]);
    expect(await backend.getJob(queue, removed.id)).toBeNull();
    await eventually(() => heard.length === 3, 'a succeeded event per completion', 5_000);
    expect(new Set(heard.map((e) => e.jobId))).toEqual(new Set([single.id, twoRoutes.id, removed.id]));
    await off();
    await backend.close();
  });

  it('deletes a succeeded job with its log lines in its completion when the backend removes every succeeded job, and keeps what is not ended or sets its own retention', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false, removeOnComplete: true });
    const queue = uniqueQueue('removed-at-completion');
    const single = newJob(queue, { routes: ['r'] });
    const twoRoutes = newJob(queue, { routes: ['r', 's'] });
    const keeps = newJob(queue, { routes: ['r'], options: { ...DEFAULT_RUN_OPTIONS, removeOnComplete: { count: 10, ageMs: null } } });
    const { heard, off, lease } = await claimedAndHeard(backend, queue, [single, twoRoutes, keeps]);
    await backend.appendLogs(queue, [{ deliveryId: `${single.id}.0`, at: Date.now(), stream: 'info', line: 'working' }]);
    expect(await backend.getLogs(queue, single.id)).toHaveLength(1);
    const outcomes = await Promise.allSettled([
      backend.complete(queue, lease(single.id), 'one'),
      backend.complete(queue, lease(twoRoutes.id), 'two'),
      backend.complete(queue, lease(keeps.id), 'kept'),
      backend.complete(queue, { ...lease(single.id), attempt: 2 }, 'stale'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    // The stale lease's job is gone by then, as on every backend that removes it.
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await backend.getJob(queue, single.id)).toBeNull();
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM skunq.logs WHERE job_id = $1', [single.id]);
    expect(rows[0].n).toBe(0);
    expect(await backend.getJob(queue, keeps.id)).toMatchObject({ state: 'succeeded', deliveries: [{ result: 'kept' }] });
    const two = await backend.getJob(queue, twoRoutes.id);
    expect(two!.deliveries.map((d) => [d.route, d.state])).toEqual([['r', 'succeeded'], ['s', 'queued']]);
    // The last delivery of the two ends the job: deleted then.
    const [s] = (await backend.claim({ queue, route: 's', workerId: 'w', limit: 10, leaseMs: 10_000 })).deliveries;
    await backend.complete(queue, { deliveryId: s!.id, workerId: 'w', attempt: s!.attempts }, 'three');
    expect(await backend.getJob(queue, twoRoutes.id)).toBeNull();
    const counted = (await backend.throughput(queue, Date.now() - 120_000)).reduce((n, b) => n + b.completed, 0);
    expect(counted).toBe(4);
    await eventually(() => heard.length === 4, 'a succeeded event per completion', 5_000);
    expect(new Set(heard.map((e) => e.jobId))).toEqual(new Set([single.id, twoRoutes.id, keeps.id]));
    await off();
    await backend.close();
  });

  it('plans the claim and the direct completions to reach their rows by key and ctid, never the whole table, in a prepared statement\'s generic plan too', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const queue = uniqueQueue('plans');
    // A table that a scan of every row costs more than a probe per completion.
    for (let n = 0; n < 2_000; n += 500) await backend.enqueue(Array.from({ length: 500 }, () => newJob(queue, { routes: ['r'] })));
    await admin.query('ANALYZE skunq.jobs');
    const plan = async (name: 'claim' | 'completeDirect' | 'completeRemoveDirect', types: string, args: string) => {
      const client = new pg.Client(server().url);
      await client.connect();
      try {
        await client.query('SET plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE p(${types}) AS ${SQL[name].replaceAll('{s}', '"skunq"')}`);
        const { rows } = await client.query(`EXPLAIN EXECUTE p(${args})`);
        return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      } finally {
        await client.end();
      }
    };
    const claimPlan = await plan('claim', 'text, text, bigint, text, int, bigint, text', `'${queue}', 'r', ${Date.now()}, 'w', 100, ${Date.now() + 60_000}, 'skq_x'`);
    expect(claimPlan).toMatch(/Tid Scan on jobs j\b/);
    const arrays = `'{a,b}', '{0,0}', '{w,w}', '{1,1}'`;
    for (const [name, types, args] of [
      ['completeDirect', 'bigint, text[], int[], text[], int[], text, bigint, int, text, text[]', `1, ${arrays}, '${queue}', 0, 0, 'skq_x', '{null,null}'`],
      ['completeRemoveDirect', 'bigint, text[], int[], text[], int[], text, bigint, int, text', `1, ${arrays}, '${queue}', 0, 0, 'skq_x'`],
    ] as const) {
      const text = await plan(name, types, args);
      expect(text, name).toMatch(/Index Scan using jobs_pkey on jobs/);
      expect(text, name).toMatch(/Tid Scan on jobs/);
      expect(text, name).not.toMatch(/Seq Scan on jobs|jobs_running/);
    }
    await backend.close();
  });

  it('vacuums the jobs table it wrote without giving back the empty pages at its end, which would lock out claims and enqueues', async () => {
    const schema = `upkeep_${Date.now()}`;
    const backend = await PostgresBackend.connect({ url: server().url, logger: false, schema, removeOnComplete: true, vacuumEveryMs: 100 });
    const queue = uniqueQueue('upkeep');
    for (let n = 0; n < 2_000; n += 500) await backend.enqueue(Array.from({ length: 500 }, () => newJob(queue, { routes: ['r'] })));
    const size = async () => Number((await admin.query(`SELECT pg_relation_size('${schema}.jobs') AS n`)).rows[0].n);
    const vacuums = async () => Number((await admin.query(`SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`, [schema])).rows[0]?.n ?? 0);
    for (;;) {
      const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 200, leaseMs: 60_000 });
      if (deliveries.length === 0) break;
      await Promise.all(deliveries.map((d) => backend.complete(queue, { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null)));
    }
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.jobs`)).rows[0].n).toBe(0);
    // A VACUUM that begins from here on finds the table empty: wait until none is at work, then count the next.
    const inProgress = async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_progress_vacuum WHERE relid = '${schema}.jobs'::regclass`)).rows[0].n;
    await eventually(async () => (await inProgress()) === 0, 'no VACUUM at work', 15_000);
    const before = await vacuums();
    const full = await size();
    const [last] = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 })).deliveries;
    expect(last).toBeUndefined();
    const extra = newJob(queue, { routes: ['r'] });
    await backend.enqueue([extra]);
    const [d] = (await backend.claim({ queue, route: 'r', workerId: 'w', limit: 1, leaseMs: 60_000 })).deliveries;
    await backend.complete(queue, { deliveryId: d!.id, workerId: 'w', attempt: d!.attempts }, null);
    await eventually(async () => (await vacuums()) > before, 'a VACUUM of the emptied table', 15_000);
    expect(await size()).toBe(full);
    await backend.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  });

  it('stores a batch of one definition in one statement; one with a resent id in a transaction that answers it as stored; refuses an id of another queue whole', async () => {
    const backend = await PostgresBackend.connect({ url: server().url, logger: false });
    const [queue, other] = [uniqueQueue('uniform'), uniqueQueue('uniform-other')];
    const now = Date.now();
    const job = (i: number, id?: string) => newJob(queue, { args: [{ i }], createdAt: now, runAt: now, ...(id && { id }) });
    const stored = job(0);
    await backend.enqueue([stored]);
    const heard: JobEvent[] = [];
    const off = await backend.subscribe(queue, (e) => heard.push(e), ['enqueued']);
    const batch = [job(1), job(2), { ...job(3), id: stored.id }, job(4)];
    expect(await backend.enqueue(batch)).toEqual(batch.map((j) => ({ id: j.id, deduped: false, deliveries: 1 })));
    await eventually(() => heard.length === 3, 'an enqueued event per job stored', 5_000);
    expect(heard.map((e) => [e.jobId, e.deliveryId, e.route])).toEqual([batch[0]!, batch[1]!, batch[3]!].map((j) => [j.id, `${j.id}.0`, 'r']));
    expect((await backend.getJob(queue, stored.id))?.args).toEqual([{ i: 0 }]);
    expect((await backend.getJob(queue, batch[1]!.id))?.args).toEqual([{ i: 2 }]);
    // An id another queue holds refuses the whole batch.
    const held = newJob(other);
    await backend.enqueue([held]);
    const refusedBatch = [job(5), job(6, held.id), job(7)];
    await expect(backend.enqueue(refusedBatch)).rejects.toMatchObject({ code: 'ID_CONFLICT' });
    for (const j of refusedBatch) expect(await backend.getJob(queue, j.id)).toBeNull();
    expect((await backend.getJob(other, held.id))?.queue).toBe(other);
    await off();
    await backend.close();
  });
});
