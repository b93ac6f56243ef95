import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { COMMON_LUA } from '../../packages/redis/src/scripts/common.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
async function per(label: string, lua: string) {
  const sha = (await c.script('LOAD', lua)) as string;
  const best: number[] = [];
  for (let r = 0; r < 3; r++) {
    await c.config('RESETSTAT');
    const p = c.pipeline();
    for (let i = 0; i < 3000; i++) p.evalsha(sha, 1, 'k', 'skq:{q}', '', '-1', '-1', '-1', '-1');
    await p.exec();
    const m = (await c.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+),usec=(\d+)/)!;
    best.push(Number(m[2]) / Number(m[1]));
  }
  console.log(label.padEnd(40), Math.min(...best).toFixed(1), 'us/call');
}
const lines = COMMON_LUA.split('\n');
const marks = ['local KEEP', 'local function fmt', '-- Records.', 'local LONG', 'local STATE_CODE', 'local function packed', '-- The records a call', '-- Gathered writes', 'local function chunked', 'local function flush()', '-- A delivery', '-- Deletes a job'];
await per('return 1', 'return 1');
for (const mk of marks) {
  const idx = lines.findIndex((l) => l.startsWith(mk));
  await per('up to ' + mk, lines.slice(0, idx).join('\n') + '\nreturn 1');
}
await per('all', COMMON_LUA + '\nreturn 1');
c.disconnect();
await server.stop();
