import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { RedisBackend } from '@skq/redis';
import { SkunkQueue } from '@skq/core';
const server = await startRedis();
const admin = new Redis(server.port, '127.0.0.1');
const backend = await RedisBackend.connect(`redis://127.0.0.1:${server.port}?removeOnComplete=true`);
const queue = new SkunkQueue('mem', { backend });
const job = queue.job({ name: 'noop', routes: ['bench'] }, async (_d: { n: number }) => undefined);
await job.fire({ n: -1 });
const used = async () => Number((await admin.info('memory')).match(/used_memory:(\d+)/)![1]);
const before = await used();
const N = 20000;
for (let n = 0; n < N; n += 1000) await queue.pushMany(Array.from({ length: 1000 }, (_, i) => job.with({ n: n + i })));
const after = await used();
console.log('B/job total', ((after - before) / N).toFixed(1));
for (const k of await admin.keys('skq:{mem}:*')) {
  const m = Number(await admin.memory('USAGE', k, 'SAMPLES', '0'));
  if (m > 10000) console.log(k, (await admin.type(k)), (m / N).toFixed(1), 'B/job');
}
const [id] = await admin.hkeys('skq:{mem}:job');
console.log('sample id', id, 'record bytes', (await admin.hget('skq:{mem}:job', id!))!.length);
await backend.close(); admin.disconnect(); await server.stop();
