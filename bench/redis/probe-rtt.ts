import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
const sha = (await c.script('LOAD', 'return 1')) as string;
async function loop(label: string, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 1000; i++) await fn(i);
  const N = 10000;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  console.log(label.padEnd(30), ((ms * 1000) / N).toFixed(1), 'us wall', (cu.user / N).toFixed(1), 'user', (cu.system / N).toFixed(1), 'sys');
}
await loop('PING', () => c.ping());
await loop('HSET small', (i) => c.hset('h', String(i), 'x'));
await loop('EVALSHA return 1, 20 args', () => c.evalsha(sha, 1, 'k', ...Array.from({ length: 20 }, (_, i) => 'arg' + i)));
const big = 'x'.repeat(200);
await loop('EVALSHA return 1, 20 args+200B', () => c.evalsha(sha, 1, 'k', big, ...Array.from({ length: 19 }, (_, i) => 'arg' + i)));
c.disconnect();
await server.stop();
