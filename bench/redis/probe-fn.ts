import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { LIBRARY } from '../../packages/redis/src/scripts/library.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
await c.function('LOAD', LIBRARY.code);
const base = ['skq:{q}', '', '-1', '-1', '-1', '-1'];
async function per(label: string, fn: string, argsOf: (i: number) => (string | number)[], n = 3000) {
  await c.config('RESETSTAT');
  const p = c.pipeline();
  for (let i = 0; i < n; i++) p.fcall(LIBRARY.prefix + fn, 1, 'skq:{q}:seq', ...base, ...argsOf(i));
  const r = await p.exec();
  const err = r?.find(([e]) => e);
  if (err) console.log(err[0]);
  const m = (await c.info('commandstats')).match(/cmdstat_fcall:calls=(\d+),usec=(\d+)/)!;
  console.log(label.padEnd(30), (Number(m[2]) / Number(m[1])).toFixed(1), 'us/call');
}
const now = Date.now();
const template = [1, 'noop', 'bench', 'direct', 0, now, 3, '', now, '', '', ''];
const row = (i: number) => [`id-${i}-${Math.random()}`, `[{"n":${i}}]`, 1];
const job = (i: number) => [...template, ...row(i)];
await per('listen', 'listen', () => [30000, 'x']);
await per('set_paused 0', 'set_paused', () => ['zz', '0']);
await per('enqueue 1', 'enqueue', job);
await per('enqueue 1 again', 'enqueue', job);
await per('enqueue 10', 'enqueue', (i) => [...template, ...Array.from({ length: 10 }, (_, k) => row(i * 10 + k)).flat()], 1000);
await per('enqueue 1000', 'enqueue', (i) => [...template, ...Array.from({ length: 1000 }, (_, k) => row(i * 1000 + k)).flat()], 20);
c.disconnect();
await server.stop();
