import { SkunkQueue } from '@skq/core';
import { RedisBackend } from '@skq/redis';
import { startRedis } from '@skq/testing/servers';
const server = await startRedis();
const backend = await RedisBackend.connect(`redis://127.0.0.1:${server.port}?removeOnComplete=true`);
// The same queue with a backend whose enqueue answers at once: core's own cost per fire.
const fake = new Proxy(backend, { get(t, k) { if (k === 'enqueue') return async (jobs: { id: string }[]) => jobs.map((j) => ({ id: j.id, deduped: false, deliveries: 1 })); const v = Reflect.get(t, k, t); return typeof v === 'function' ? v.bind(t) : v; } });
for (const [label, b] of (process.env.ONLY_REDIS ? [['redis', backend]] : [['core only (enqueue answered at once)', fake], ['redis', backend]]) as [string, typeof backend][]) {
  const queue = new SkunkQueue('core-' + label.length, { backend: b });
  const job = queue.job({ name: 'noop', routes: ['bench'] }, async (_d: { n: number }) => undefined);
  for (let i = 0; i < 3000; i++) await job.fire({ n: i });
  const N = 20000;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await job.fire({ n: i });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(label.padEnd(40), ((ms * 1000) / N).toFixed(1), 'us wall', (c.user / N).toFixed(1), 'user', (c.system / N).toFixed(1), 'sys');
}
await backend.close();
await server.stop();
