// Scratch probe (not committed): Redis usec per job by phase via INFO commandstats.
import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
import { RedisBackend } from '@skq/redis';
import { newJob } from '../../internal/testing/src/contract-fixtures.js';

const N = Number(process.env.N ?? 20000);
const server = await startRedis();
const admin = new Redis(server.port, '127.0.0.1');
async function usec(): Promise<number> {
  const s = await admin.info('commandstats');
  let t = 0;
  for (const m of s.matchAll(/cmdstat_(evalsha|eval|fcall):calls=(\d+),usec=(\d+)/g)) t += Number(m[3]);
  return t;
}
const backend = await RedisBackend.connect(server.url + '?removeOnComplete=true');
const queue = 'probe';
await backend.enqueue([newJob(queue)]);
await backend.claim({ queue, route: 'r', workerId: 'w', limit: 10, leaseMs: 60000 });
let u0 = await usec();
let t0 = performance.now();
for (let i = 0; i < 2000; i++) await backend.enqueue([newJob(queue, { args: [{ n: i }] })]);
console.log('enqueue one: redis us/job', ((await usec()) - u0) / 2000, 'wall us/job', ((performance.now() - t0) * 1000) / 2000);
u0 = await usec();
t0 = performance.now();
for (let i = 0; i < N; i += 1000) await backend.enqueue(Array.from({ length: 1000 }, (_, k) => newJob(queue, { args: [{ n: i + k }] })));
console.log('bulk: redis us/job', ((await usec()) - u0) / N, 'wall us/job', ((performance.now() - t0) * 1000) / N);
const mem = await admin.info('memory');
console.log('used_memory', mem.match(/used_memory:(\d+)/)?.[1]);
u0 = await usec();
t0 = performance.now();
let done = 0;
for (;;) {
  const { deliveries } = await backend.claim({ queue, route: 'r', workerId: 'w', limit: 50, leaseMs: 60000 });
  if (deliveries.length === 0) break;
  await Promise.all(deliveries.map((d) => backend.complete(queue, { deliveryId: d.id, workerId: 'w', attempt: d.attempts }, null)));
  done += deliveries.length;
}
console.log('claim50+complete: redis us/job', ((await usec()) - u0) / done, 'wall us/job', ((performance.now() - t0) * 1000) / done, done);
await backend.close();
admin.disconnect();
await server.stop();
