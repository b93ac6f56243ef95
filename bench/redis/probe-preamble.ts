import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { COMMON_LUA } from '../../packages/redis/src/scripts/common.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
async function per(label: string, lua: string, args: string[] = []) {
  const sha = (await c.script('LOAD', lua)) as string;
  await c.config('RESETSTAT');
  const n = 3000;
  const p = c.pipeline();
  for (let i = 0; i < n; i++) p.evalsha(sha, 1, 'k', 'skq:{q}', '', '-1', '-1', '-1', '-1', ...args);
  await p.exec();
  const s = await c.info('commandstats');
  const m = s.match(/cmdstat_evalsha:calls=(\d+),usec=(\d+)/)!;
  console.log(label, (Number(m[2]) / Number(m[1])).toFixed(1), 'us/call');
}
await per('return 1', 'return 1');
await per('common+return', COMMON_LUA + '\nreturn 1');
await per('common+pack/unpack', COMMON_LUA + `\nlocal t = unpacked(packed({name='noop', args='[{"n":1}]', routes='r', created='1733000000000', route='r', state='queued', priority='0', runAt='1733000000000', max='3', seq='12345'}))\nreturn 1`);
await per('common+pack', COMMON_LUA + `\nlocal b = packed({name='noop', args='[{"n":1}]', routes='r', created='1733000000000', route='r', state='queued', priority='0', runAt='1733000000000', max='3', seq='12345'})\nreturn 1`);
await per('cmsgpack raw', `local b = cmsgpack.pack({n='noop', a='[{"n":1}]', c=1733000000000, r='r', s='q', m=3, q=12345})\nlocal t = cmsgpack.unpack(b)\nreturn 1`);
await per('TIME', `local t = redis.call('TIME') return 1`);
c.disconnect();
await server.stop();
