// Operating a queue on the embedded default: retention, pause and resume, progress and events,
// retry of failed jobs, promote and remove, throughput, and asEvent call records.
// Run it with `pnpm --filter @skq/example-operating start`. It ends by itself.
import { SkunkQueue, currentJob } from '@skq/core';
import { WorkerPool } from '@skq/worker';

// Keep the newest 100 succeeded jobs and a week of failed ones; a fire option can override both.
const queue = new SkunkQueue('operating-demo', { removeOnComplete: 100, removeOnFail: { ageMs: 7 * 24 * 3_600_000 } });

const resize = queue.job({ name: 'resize', routes: ['images'] }, async (pages: number) => {
  const ctx = currentJob();
  for (let page = 1; page <= pages; page += 1) ctx.progress({ page, of: pages }); // coalesced: ≤ 1 write per 100 ms
  return pages;
});
let healthy = false;
const charge = queue.job({ name: 'charge', routes: ['billing'] }, async (cents: number) => {
  if (!healthy) throw new Error('payment provider down');
  return `charged ${cents}`;
});

const pool = new WorkerPool({ queue, routes: ['images', 'billing'], concurrency: 4, handleSignals: false });
await pool.start();

// Events from every process that uses the queue (best effort: read durable state for what must not be missed).
const off = await queue.on('progress', (e) => console.log(`progress of ${e.jobId}:`, e.data));

// Pause one route: nothing on it is claimed, anywhere, until it is resumed. Enqueueing goes on.
await queue.pause('images');
console.log('paused:', await queue.pausedRoutes());
const handle = await resize.fire(3);
console.log('while paused the job is', await handle.state());
await queue.resume('images');
console.log('resize returned', await handle.result({ timeoutMs: 10_000 }), 'with progress', await handle.progress());
await off();

// Retry what failed once the cause is fixed: one job, or every failed job of a name.
const failed = await charge.fire(500);
await failed.result({ timeoutMs: 10_000 }).catch((err: Error) => console.log('charge failed:', err.message));
healthy = true;
console.log('retried', await queue.retryAll({ state: 'failed', name: 'charge' }), 'failed charge');
console.log('charge now returns', await failed.result({ timeoutMs: 10_000 }));

// A delayed job can run now (promote), be moved, or be removed.
const later = await queue.push(charge.with(100), { at: { hours: 1 } });
await queue.promote(later.id);
console.log('promoted job returned', await later.result({ timeoutMs: 10_000 }));
const cancelled = await queue.push(charge.with(200), { at: { days: 1 } });
await queue.remove(cancelled.id);

// Pages of jobs, newest first, with filters and an opaque cursor.
const { jobs, nextCursor } = await queue.list({ state: 'succeeded', limit: 2 });
console.log('newest succeeded:', jobs.map((j) => j.name), nextCursor ? '(more)' : '');

// Throughput per route and minute, kept for 24 hours.
const minutes = await queue.metrics({ minutes: 5 });
console.log('completed this minute:', minutes.reduce((n, m) => n + m.completed, 0), 'failed:', minutes.reduce((n, m) => n + m.failed, 0));

// asEvent: each call is stored with its output, and returns [value, lines].
const backup = queue.asEvent(function backup() {
  console.log('copying files');
  return 0;
});
const [value, lines] = await backup();
console.log('backup returned', value, 'and printed', lines);
console.log('records:', (await queue.records({ name: 'backup' })).map((r) => `${r.name} pid ${r.pid} -> ${JSON.stringify(r.value)}`));

// Workers can be listed and commanded from anywhere: `queue.commandWorker(id, 'stop' | 'stop-rough' | 'pause' | 'resume')`.
const [worker] = await queue.workers();
// Its running jobs are those of its last heartbeat: a change shows within about a second.
console.log('a worker:', worker?.state, 'on routes', worker?.routes);

await pool.close();
await queue.close();
