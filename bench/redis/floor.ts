// pnpm --filter @skq/bench-redis floor — what the bare driver (ioredis, no queue library) reaches doing an
// enqueue's writes on this machine: the floor under `pnpm bench:redis`'s enqueue cases. Each figure is the
// median of 3 runs with min–max. One at a time, the same run measures bee-queue's enqueue, and one script call
// a job (a Redis function with its arguments built in advance) doing bee-queue's reads and writes, then
// skunq's: what one call must read and write for skunq's enqueue (see the row), so that the floor of each
// library's work sits beside bee-queue's rate. Options (env): FLOOR_JOBS (one at a time, 10000),
// FLOOR_BULK_JOBS (50000).
import { Redis } from 'ioredis';
import { missingServer, startRedis } from '@skq/testing/servers';
import { TEMPLATE_FIELDS } from '../../packages/redis/src/scripts/enqueue.js';
import { LIBRARY } from '../../packages/redis/src/scripts/library.js';
import { LIBRARIES } from './libraries.js';
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
/**
 * Bare Redis functions, one call a job:
 * - bee_work: what bee-queue's enqueue script does (its job id from a counter, whether it is stored, the job's
 *   hash field, its entry on the waiting list).
 * - skunq_work: the reads and writes one call of skunq's enqueue makes for a job due now, with nothing else of
 *   skunq: the server's clock (leases and parkings are judged by it), whether anyone listens to `enqueued`,
 *   the route's last run time (a job due earlier than the list's last goes to the sorted set), whether a worker
 *   is parked on the route (it would be handed the job), the record written only if its id is new
 *   (idempotent enqueue), as MessagePack, the list entry, the count.
 */
const BARE = `#!lua name=floor
redis.register_function('bee_work', function(KEYS, ARGV)
  local id = tostring(redis.call('INCR', KEYS[1]))
  if redis.call('HEXISTS', KEYS[2], id) == 1 then return nil end
  redis.call('HSET', KEYS[2], id, ARGV[1])
  redis.call('LPUSH', KEYS[3], id)
  return id
end)
redis.register_function('skunq_work', function(KEYS, ARGV)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local heard = tonumber(redis.call('HGET', KEYS[4], 'enqueued') or '0') >= now
  local tail = tonumber(redis.call('HGET', KEYS[5], 'bench') or '0')
  local parked = redis.call('EXISTS', KEYS[6]) == 1
  local record = cmsgpack.pack({ n = ARGV[3], a = ARGV[2], c = tonumber(ARGV[4]), m = 3, r = 'bench', s = 'q' })
  if redis.call('HSETNX', KEYS[1], ARGV[1], record) == 0 then return 0 end
  redis.call('RPUSH', KEYS[2], ARGV[1] .. '.0')
  redis.call('HINCRBY', KEYS[3], 'bench|queued', 1)
  return (heard or parked or tail > now) and 2 or 1
end)`;
const loadFunctions = async () => {
  await client.function('LOAD', 'REPLACE', LIBRARY.code);
  await client.function('LOAD', 'REPLACE', BARE);
};
await loadFunctions();
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
// bee-queue's producer, as bench:redis sets it up (its queue's keys survive nothing: each run starts on an empty Redis).
const bee = await LIBRARIES.find((library) => library.name === 'bee-queue')!.producer(server.port, 'floor-bee');

async function rate(label: string, jobs: number, step: number, send: () => Promise<unknown>): Promise<void> {
  const rates: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    await client.flushall();
    await loadFunctions();
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
await rate("one job: bee-queue's enqueue (the library)", ONE, 1, () => bee.addOne({ n: id++ }));
await rate("one job: one call doing bee-queue's work (INCR, HEXISTS, HSET, LPUSH), arguments built in advance", ONE, 1, () => {
  id += 1;
  return client.fcall('bee_work', 3, 'bee:id', 'bee:jobs', 'bee:waiting', `{"data":{"n":${id}},"options":{"timestamp":${now},"stacktraces":[]},"status":"created"}`);
});
await rate("one job: one call doing skunq's work (TIME, 2 HGET, EXISTS, HSETNX, RPUSH, HINCRBY), arguments built in advance", ONE, 1, () => {
  id += 1;
  return client.fcall('skunq_work', 6, 'skq:{floor}:job', 'skq:{floor}:waiting:bench', 'skq:{floor}:counts', 'skq:{floor}:listeners', 'skq:{floor}:tails', 'skq:{floor}:parked:bench', `id-${id}`, `[{"n":${id}}]`, 'noop', now);
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

await bee.close();
client.disconnect();
await server.stop();
process.exit(0);
