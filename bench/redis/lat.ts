import { startRedis } from '@skq/testing/servers';
import { RedisBackend } from '@skq/redis';
import { newJob } from '../../internal/testing/src/contract-fixtures.ts';
const server = await startRedis();
const b = await RedisBackend.connect(server.url + '?removeOnComplete=true');
const N = 3000;
const jobs = Array.from({ length: N }, () => newJob('q', { routes: ['r'] }));
for (let i = 0; i < N; i += 1000) await b.enqueue(jobs.slice(i, i + 1000));
let tc = 0, tf = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  let t = performance.now();
  const { deliveries } = await b.claim({ queue: 'q', route: 'r', workerId: 'w', limit: 1, leaseMs: 30000 });
  tc += performance.now() - t; t = performance.now();
  await b.complete('q', deliveries[0]!.id, 'w', null);
  tf += performance.now() - t;
}
console.log('per job ms', ((performance.now() - t0) / N).toFixed(3), 'claim', (tc / N).toFixed(3), 'complete', (tf / N).toFixed(3));
await b.close(); await server.stop(); process.exit(0);
