// Floors for bulk enqueue (batches of 1,000): the bare driver doing a job's writes.
import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { LIBRARY } from '../../packages/redis/src/scripts/library.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
await c.function('LOAD', LIBRARY.code);
async function loop(label: string, fn: (base: number) => Promise<unknown>) {
  await fn(-1_000_000);
  const N = 50000;
  const t0 = performance.now();
  for (let n = 0; n < N; n += 1000) await fn(n);
  const ms = performance.now() - t0;
  console.log(label.padEnd(52), Math.round((N / ms) * 1000), 'jobs/s');
}
const now = Date.now();
const rec = 'x'.repeat(50);
await loop('skunq enqueue function, 1,000 jobs per call, prebuilt', (b) =>
  c.fcall(LIBRARY.prefix + 'enqueue', 1, 'skq:{f}:seq', 'skq:{f}', '', '-1', '-1', '-1', '-1', ...Array.from({ length: 1000 }, (_, i) => [`id-${b + i}`, 'noop', `[{"n":${b + i}}]`, 'bench', 'direct', 0, now, 3, '', now, '', '', '']).flat()));
await loop('pipeline of 1,000 x (HSETNX, RPUSH, HINCRBY)', (b) => {
  const p = c.pipeline();
  for (let i = 0; i < 1000; i++) p.hsetnx('h', `id-${b + i}`, rec).rpush('l', `id-${b + i}.0`).hincrby('counts', 'bench|queued', 1);
  return p.exec();
});
await loop('HSET 1,000 fields + RPUSH 1,000 + HINCRBY, pipelined', (b) => {
  const fields: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 1000; i++) { fields.push(`id2-${b + i}`, rec); ids.push(`id2-${b + i}.0`); }
  return c.pipeline().hset('h2', ...fields).rpush('l2', ...ids).hincrby('counts', 'bench|queued', 1000).exec();
});
c.disconnect();
await server.stop();
