// pnpm --filter @skq/bench-redis floor — what the bare driver (ioredis, no queue library) reaches doing an
// enqueue's writes on this machine: the floor under `pnpm bench:redis`'s enqueue cases. Each figure is the
// median of 3 runs with min–max. Options (env): FLOOR_JOBS (one at a time, 10000), FLOOR_BULK_JOBS (50000).
import { Redis } from 'ioredis';
import { missingServer, startRedis } from '@skq/testing/servers';
import { TEMPLATE_FIELDS } from '../../packages/redis/src/scripts/enqueue.js';
import { LIBRARY } from '../../packages/redis/src/scripts/library.js';
import { fmt, median } from '../stats.js';

const ONE = Number(process.env.FLOOR_JOBS ?? 10_000);
const BULK = Number(process.env.FLOOR_BULK_JOBS ?? 50_000);
const skipped = missingServer('redis-server', 'run ./scripts/setup-test-servers.sh');
if (skipped) {
  console.error(`floor needs ${skipped}`);
  process.exit(1);
}
const server = await startRedis();
const client = new Redis(server.port, '127.0.0.1');
await client.function('LOAD', LIBRARY.code);
// A job record as skunq stores one (a MessagePack map of about this size).
const RECORD = 'x'.repeat(52);
const now = Date.now();
// skunq's enqueue function with its arguments built in advance: one template (name, routes, type, priority,
// runAt, attempts, dedupe key, createdAt, options, keepS, keepF, group), then id, args, template.
const TEMPLATE = [1, 'noop', 'bench', 'direct', 0, now, 3, '', now, '', '', '', ''];
// The function reads a template's fields by position: one more field there (as groups added) and this would misread.
if (TEMPLATE.length !== 1 + TEMPLATE_FIELDS) throw new Error(`floor.ts: the enqueue template has ${TEMPLATE_FIELDS} fields now; update TEMPLATE`);
const COMMON = ['skq:{floor}', '', '-1', '-1', '-1', '-1'];
let id = 0;

async function rate(label: string, jobs: number, step: number, send: () => Promise<unknown>): Promise<void> {
  const rates: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    await client.flushall();
    await client.function('LOAD', LIBRARY.code).catch(() => undefined);
    const start = performance.now();
    for (let n = 0; n < jobs; n += step) await send();
    rates.push((jobs / (performance.now() - start)) * 1000);
  }
  console.log(`| ${label} | ${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}) |`);
}

console.log(`Redis on 127.0.0.1:${server.port}; node ${process.version}\n\n| the bare driver, awaited each time | jobs/s |\n|---|---:|`);
await rate('one job: HSETNX record + RPUSH + HINCRBY, pipelined', ONE, 1, () => {
  id += 1;
  return client.pipeline().hsetnx('h', `id-${id}`, RECORD).rpush('l', `id-${id}.0`).hincrby('counts', 'bench|queued', 1).exec();
});
await rate('one job: the same three in MULTI/EXEC', ONE, 1, () => {
  id += 1;
  return client.multi().hsetnx('h', `id-${id}`, RECORD).rpush('l', `id-${id}.0`).hincrby('counts', 'bench|queued', 1).exec();
});
await rate("one job: skunq's enqueue function, arguments built in advance", ONE, 1, () => {
  id += 1;
  return client.fcall(`${LIBRARY.prefix}enqueue`, 1, 'skq:{floor}:seq', ...COMMON, ...TEMPLATE, `id-${id}`, `[{"n":${id}}]`, 1);
});
await rate('1,000 jobs: 1,000 x (HSETNX, RPUSH, HINCRBY) in one pipeline', BULK, 1_000, () => {
  const pipeline = client.pipeline();
  for (let i = 0; i < 1_000; i += 1) {
    id += 1;
    pipeline.hsetnx('h', `id-${id}`, RECORD).rpush('l', `id-${id}.0`).hincrby('counts', 'bench|queued', 1);
  }
  return pipeline.exec();
});
await rate('1,000 jobs: HSET of 1,000 fields + RPUSH of 1,000 + HINCRBY, pipelined', BULK, 1_000, () => {
  const fields: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 1_000; i += 1) {
    id += 1;
    fields.push(`id-${id}`, RECORD);
    ids.push(`id-${id}.0`);
  }
  return client.pipeline().hset('h', ...fields).rpush('l', ...ids).hincrby('counts', 'bench|queued', 1_000).exec();
});
await rate("1,000 jobs: skunq's enqueue function, 10 calls of 100 sent together", BULK, 1_000, () =>
  Promise.all(
    Array.from({ length: 10 }, () => {
      const rows: (string | number)[] = [];
      for (let i = 0; i < 100; i += 1) {
        id += 1;
        rows.push(`id-${id}`, `[{"n":${id}}]`, 1);
      }
      return client.fcall(`${LIBRARY.prefix}enqueue`, 1, 'skq:{floor}:seq', ...COMMON, ...TEMPLATE, ...rows);
    }),
  ),
);

client.disconnect();
await server.stop();
process.exit(0);
