// Transactional enqueue from a Kysely transaction: a three-line adapter hands skunq the transaction's
// connection, so the job exists if and only if the transaction commits.
// Run it with `DATABASE_URL=postgres://… pnpm --filter @skq/example-postgres-transactions kysely`.
import { CompiledQuery, Kysely, PostgresDialect, type Generated, type Transaction } from 'kysely';
import pg from 'pg';
import { SkunkQueue } from '@skq/core';
import { WorkerPool } from '@skq/worker';

interface Database {
  invoices: { id: Generated<number>; customer: string };
}

/** A Kysely transaction as skunq takes one: something with `query({ text, values })`. */
const inKysely = (trx: Transaction<Database>) => ({
  query: ({ text, values }: { text: string; values?: unknown[] }) => trx.executeQuery(CompiledQuery.raw(text, values ?? [])),
});

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
await db.schema.createTable('invoices').ifNotExists().addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('customer', 'text', (c) => c.notNull()).execute();

const queue = new SkunkQueue('billing', { backend: url });
const emailInvoice = queue.job({ name: 'emailInvoice', routes: ['mail'] }, async (invoiceId: number) => `invoice ${invoiceId} emailed`);
const pool = new WorkerPool({ queue, routes: ['mail'], handleSignals: false });
await pool.start();

// Rolled back: neither the invoice nor its job is stored.
await db
  .transaction()
  .execute(async (trx) => {
    const { id } = await trx.insertInto('invoices').values({ customer: 'acme' }).returning('id').executeTakeFirstOrThrow();
    await emailInvoice.fireWith({ tx: inKysely(trx) }, id);
    throw new Error('tax service down');
  })
  .catch((err: Error) => console.log('invoice failed:', err.message));
console.log('jobs after the rollback:', (await queue.list()).jobs.length);

// Committed: the job runs.
const handle = await db.transaction().execute(async (trx) => {
  const { id } = await trx.insertInto('invoices').values({ customer: 'globex' }).returning('id').executeTakeFirstOrThrow();
  return emailInvoice.fireWith({ tx: inKysely(trx) }, id);
});
console.log('committed:', await handle.result({ timeoutMs: 10_000 }));

await pool.close();
await queue.close();
await db.destroy();
