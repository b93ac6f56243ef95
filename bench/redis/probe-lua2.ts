import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
const server = await startRedis();
const c = new Redis(server.port, '127.0.0.1');
const tests: Record<string, string> = {
  argsOnly: `local n = 0 for i = 1, #ARGV, 3 do n = n + #ARGV[i] end return n`,
  hsetnx: `for i = 1, #ARGV, 3 do redis.call('HSETNX', 'h', ARGV[i], ARGV[i + 1]) end return 1`,
  packHsetnx: `for i = 1, #ARGV, 3 do redis.call('HSETNX', 'h2', ARGV[i], cmsgpack.pack({ n = 'noop', a = ARGV[i + 1], c = 1733000000000, m = 3, r = 'bench', s = 'q' })) end return 1`,
  packHsetnxPush: `local ids = {} for i = 1, #ARGV, 3 do redis.call('HSETNX', 'h3', ARGV[i], cmsgpack.pack({ n = 'noop', a = ARGV[i + 1], c = 1733000000000, m = 3, r = 'bench', s = 'q' })); ids[#ids + 1] = ARGV[i] .. '.0' end redis.call('RPUSH', 'l3', unpack(ids)) return 1`,
  hsetMulti: `local f = {} for i = 1, #ARGV, 3 do f[#f + 1] = ARGV[i]; f[#f + 1] = cmsgpack.pack({ n = 'noop', a = ARGV[i + 1], c = 1733000000000, m = 3, r = 'bench', s = 'q' }) end redis.call('HSET', 'h4', unpack(f)) return 1`,
};
const lib = `#!lua name=probe2\n` + Object.entries(tests).map(([n, b]) => `redis.register_function('q_${n}', function(KEYS, ARGV)\n${b}\nend)`).join('\n');
await c.function('LOAD', 'REPLACE', lib);
let base = 0;
for (const name of Object.keys(tests)) {
  const got: number[] = [];
  for (let r = 0; r < 5; r++) {
    await c.config('RESETSTAT');
    const args: string[] = [];
    for (let i = 0; i < 1000; i++) args.push(`01a2465f-34e0-7c35-80f8-d6143094${String(base++).padStart(4, '0')}`, `[{"n":${i}}]`, '1');
    await c.fcall(`q_${name}`, 1, 'k', ...args);
    const m = (await c.info('commandstats')).match(/cmdstat_fcall:calls=(\d+),usec=(\d+)/)!;
    got.push(Number(m[2]) / Number(m[1]) / 1000);
  }
  got.sort((a, b) => a - b);
  console.log(name.padEnd(16), got[2]!.toFixed(2), 'us/job (median of 5 calls of 1,000)');
}
c.disconnect();
await server.stop();
