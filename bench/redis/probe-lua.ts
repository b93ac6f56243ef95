import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { COMMON_LUA } from '../../packages/redis/src/scripts/common.js';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
const tests: Record<string, string> = {
  empty: `return 1`,
  flushonly: `flush() return 1`,
  flushrec: `flushRecords(JOBS) flushRecords(DELIVERIES) return 1`,
  flushtails: `for route in pairs(tailsChanged) do redis.call('HSET', P .. ':tails', route, fmt(tails[route])) end return 1`,
  flushcounts: `for _, field in ipairs(countOrder) do end if #pendingDel > 0 then end if #tallyOrder > 0 then end if eventTotal > 0 then end return 1`,
  pack: `local t = {name='noop', args='[{"n":1}]', routes='r', created='1733000000000', route='r', state='queued', priority='0', runAt='1733000000000', max='3', seq='12345', attempts='0', nd='1'}
for i = 1, 100 do local b = packed(t) end return 1`,
  unpack: `local b = packed({name='noop', args='[{"n":1}]', routes='r', created='1733000000000', route='r', state='queued', priority='0', runAt='1733000000000', max='3', seq='12345'})
for i = 1, 100 do local t = unpacked(b) end return 1`,
  rawpack: `local t = {n='noop', a='[{"n":1}]', c=1733000000000, r='r', s='q', m=3, q=12345}
for i = 1, 100 do local b = cmsgpack.pack(t) end return 1`,
  rawunpack: `local b = cmsgpack.pack({n='noop', a='[{"n":1}]', c=1733000000000, r='r', s='q', m=3, q=12345})
for i = 1, 100 do local t = cmsgpack.unpack(b) end return 1`,
  fmt100: `for i = 1, 100 do local s = fmt(1733000000000 + i) end return 1`,
  hget100: `for i = 1, 100 do redis.call('HGET', 'nohash', 'x') end return 1`,
  hset100: `for i = 1, 100 do redis.call('HSET', 'h', 'x' .. (i % 5), 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy') end return 1`,
};
const lib = `#!lua name=probe\n${COMMON_LUA}\n` + Object.entries(tests).map(([n, b]) => `redis.register_function('p_${n}', function(KEYS, ARGV) begin(ARGV)\n${b}\nend)`).join('\n') + `\nredis.register_function('p_bare', function(KEYS, ARGV) return 1 end)\nredis.register_function('p_time', function(KEYS, ARGV) local t = redis.call('TIME') return 1 end)`;
tests.bare = ''; tests.time = '';
await c.function('LOAD', 'REPLACE', lib);
for (const name of Object.keys(tests)) {
  const got: number[] = [];
  for (let r = 0; r < 5; r++) {
    await c.config('RESETSTAT');
    const p = c.pipeline();
    for (let i = 0; i < 1000; i++) p.fcall(`p_${name}`, 1, 'k', 'skq:{q}', '', '-1', '-1', '-1', '-1');
    await p.exec();
    const m = (await c.info('commandstats')).match(/cmdstat_fcall:calls=(\d+),usec=(\d+)/)!;
    got.push(Number(m[2]) / Number(m[1]));
  }
  got.sort((a, b) => a - b);
  console.log(name.padEnd(12), got[0]!.toFixed(1), 'min', got[2]!.toFixed(1), 'median us/call');
}
c.disconnect();
await server.stop();
