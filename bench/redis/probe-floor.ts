// Floors for enqueue one at a time: the bare driver doing a job's writes, awaited one by one.
import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { LIBRARY } from '../../packages/redis/src/scripts/library.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
await c.function('LOAD', LIBRARY.code);
async function loop(label: string, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 1000; i++) await fn(-i - 1);
  const N = 10000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  const ms = performance.now() - t0;
  console.log(label.padEnd(44), Math.round((N / ms) * 1000), 'jobs/s');
}
const now = Date.now();
await loop('skunq enqueue function, args prebuilt', (i) => c.fcall(LIBRARY.prefix + 'enqueue', 1, 'skq:{f}:seq', 'skq:{f}', '', '-1', '-1', '-1', '-1', `id-${i}`, 'noop', `[{"n":${i}}]`, 'bench', 'direct', 0, now, 3, '', now, '', '', ''));
await loop('HSETNX + RPUSH + HINCRBY in one MULTI', (i) => c.multi().hsetnx('h', `id-${i}`, 'x'.repeat(50)).rpush('l', `id-${i}.0`).hincrby('counts', 'bench|queued', 1).exec());
await loop('HSETNX + RPUSH + HINCRBY pipelined', (i) => c.pipeline().hsetnx('h2', `id-${i}`, 'x'.repeat(50)).rpush('l2', `id-${i}.0`).hincrby('counts', 'bench|queued', 1).exec());
c.disconnect();
await server.stop();
