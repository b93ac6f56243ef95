// Transactional enqueue with a plain node-postgres client: the receipt job is written in the same
// transaction as the order, so it exists if and only if the order does. Workers hear of it at commit.
// Run it with `DATABASE_URL=postgres://… pnpm --filter @skq/example-postgres-transactions raw-pg`.
import pg from 'pg';
import { SkunkQueue } from '@skq/core';
import { WorkerPool } from '@skq/worker';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const queue = new SkunkQueue('shop', { backend: url });
const sendReceipt = queue.job({ name: 'sendReceipt', routes: ['mail'] }, async (orderId: number) => `receipt for order ${orderId} sent`);

const db = new pg.Pool({ connectionString: url });
await db.query('CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text NOT NULL)');

/** Places an order and fires its receipt job in one transaction; `declined` rolls both back. */
async function placeOrder(item: string, declined: boolean) {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: number }>('INSERT INTO orders (item) VALUES ($1) RETURNING id', [item]);
    const receipt = await sendReceipt.fireWith({ tx: client }, rows[0]!.id);
    if (declined) throw new Error('card declined');
    await client.query('COMMIT');
    return receipt;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

const pool = new WorkerPool({ queue, routes: ['mail'], handleSignals: false });
await pool.start();

await placeOrder('book', true).catch((err: Error) => console.log('order failed:', err.message));
console.log('jobs after the rollback:', (await queue.list()).jobs.length);

const receipt = await placeOrder('lamp', false);
console.log('committed:', await receipt.result({ timeoutMs: 10_000 }));

await pool.close();
await queue.close();
await db.end();
