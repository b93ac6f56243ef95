import { Redis } from 'ioredis';
import { startRedis } from '@skq/testing/servers';
const server = await startRedis();
for (const auto of [false, true]) {
  const r = new Redis(server.port, '127.0.0.1', { enableAutoPipelining: auto });
  await r.ping();
  const N = 5000; let t = performance.now();
  for (let i = 0; i < N; i++) await r.ping();
  const ping = (performance.now() - t) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) await r.evalsha('0000000000000000000000000000000000000000', 0).catch(() => 0);
  console.log(`auto=${auto} ping ${(ping * 1000).toFixed(0)}us  evalsha-err ${((performance.now() - t) / N * 1000).toFixed(0)}us`);
  r.disconnect();
}
await server.stop(); process.exit(0);
