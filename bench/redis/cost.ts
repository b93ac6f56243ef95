// pnpm --filter @skq/bench-redis cost — where each library's time goes, per job: Node CPU (this
// process), Redis CPU (INFO cpu), and the Redis commands it sends, with the arguments of each.
// Phases: enqueue one by one, bulk enqueue, process at concurrency 10. Options (env): COST_JOBS (10000).
import { Redis } from 'ioredis';
import { missingServer, startRedis } from '@skq/testing/servers';
import { LIBRARIES, type Library } from './libraries.js';

const JOBS = Number(process.env.COST_JOBS ?? 10_000);
const skipped = missingServer('redis-server', 'run ./scripts/setup-test-servers.sh');
if (skipped) {
  console.error(`cost needs ${skipped}`);
  process.exit(1);
}
const server = await startRedis();
const admin = new Redis(server.port, '127.0.0.1');
const monitor = new Redis(server.port, '127.0.0.1');

/** Commands seen by MONITOR, and the arguments they carried (the command name not counted). */
const seen = { calls: new Map<string, number>(), args: 0 };
let counting = false;
const feed = await monitor.monitor();
feed.on('monitor', (_time: string, args: string[]) => {
  if (!counting || args[0] === 'info' || args[0] === 'INFO') return;
  const name = args[0]!.toUpperCase();
  seen.calls.set(name, (seen.calls.get(name) ?? 0) + 1);
  seen.args += args.length - 1;
});

async function redisCpuMs(): Promise<number> {
  const info = await admin.info('cpu');
  return (Number(info.match(/used_cpu_user:(\S+)/)![1]) + Number(info.match(/used_cpu_sys:(\S+)/)![1])) * 1000;
}

async function measure(label: string, lib: Library, fn: () => Promise<void>): Promise<void> {
  seen.calls.clear();
  seen.args = 0;
  const redis0 = await redisCpuMs();
  const node0 = process.cpuUsage();
  const start = performance.now();
  counting = true;
  await fn();
  counting = false;
  const ms = performance.now() - start;
  const node = process.cpuUsage(node0);
  const redis = (await redisCpuMs()) - redis0;
  await new Promise((r) => setTimeout(r, 200)); // the last MONITOR lines
  const perJob = (n: number) => (n / JOBS).toFixed(2);
  const calls = [...seen.calls].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${perJob(n)}`).join(', ');
  console.log(
    `| ${lib.name} | ${label} | ${Math.round((JOBS / ms) * 1000)} | ${(((node.user + node.system) / JOBS)).toFixed(1)} | ${((redis * 1000) / JOBS).toFixed(1)} | ${perJob([...seen.calls.values()].reduce((a, b) => a + b, 0))} | ${perJob(seen.args)} | ${calls} |`,
  );
}

console.log(`${JOBS} jobs per phase; MONITOR is on, so rates here are lower than in run.ts: read the per-job costs.\n`);
console.log('| library | phase | jobs/s | Node CPU µs/job | Redis CPU µs/job | Redis calls/job | arguments/job | calls per job by command |');
console.log('|---|---|---:|---:|---:|---:|---:|---|');
for (const lib of LIBRARIES) {
  await admin.flushall();
  const one = await lib.producer(server.port, `${lib.name}-one`);
  await measure('enqueue 1 by 1', lib, async () => {
    for (let n = 0; n < JOBS; n += 1) await one.addOne({ n });
  });
  await one.close();
  const bulk = await lib.producer(server.port, `${lib.name}-bulk`);
  await measure('bulk enqueue x1000', lib, async () => {
    for (let n = 0; n < JOBS; n += 1_000) await bulk.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ n: n + i })));
  });
  await bulk.close();
  const consumer = await lib.consumer(server.port, `${lib.name}-bulk`, 10);
  await measure('process c=10', lib, () => consumer.done(JOBS));
  await consumer.close();
}

monitor.disconnect();
admin.disconnect();
await server.stop();
process.exit(0);
