// A worker process of the scaling bench: node worker.ts <backend URL> <queue> <concurrency>.
// Prints "ready" once it consumes; SIGTERM stops it gently.
import { SkunkQueue } from '@skq/core';
import { WorkerPool } from '@skq/worker';

const [url, name, concurrency] = process.argv.slice(2);
const queue = new SkunkQueue(name!, { backend: url! });
queue.job({ name: 'noop', routes: ['bench'] }, async (_data: { n: number }) => undefined);
const pool = new WorkerPool({ queue, routes: ['bench'], concurrency: Number(concurrency), handleSignals: false, scheduler: false });
await pool.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void pool.close().then(() => queue.close()).then(() => process.exit(0));
});
