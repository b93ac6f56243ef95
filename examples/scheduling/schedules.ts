// Schedules on the embedded default: a clock schedule that conjoins two jobs, a recurring task
// (next run = completion + delay), an adaptive AIMD schedule, and a shell task.
// Run it with `pnpm --filter @skq/example-scheduling start`. Stops by itself after three seconds.
import { AIMDScheduler, JobMixin, SkunkQueue, TimeScheduler } from '@skq/core';
import { WorkerPool } from '@skq/worker';

const queue = new SkunkQueue('scheduling-demo');

class Foo extends JobMixin {
  override routes = ['foo'];
  work() {
    return 'baz';
  }
}
class Bar extends JobMixin {
  override routes = ['foo'];
  work() {
    return 'qux';
  }
}
queue.register(Foo);
queue.register(Bar);

const gather = queue.job({ name: 'gather', routes: ['foo'] }, async () => new Date().toISOString());
const probe = queue.job({ name: 'probe', routes: ['foo'] }, async () => 'ok');

// Every half second, Foo then Bar as one compound job: jobs added up to a flush are conjoined.
const schedule = new TimeScheduler(queue, { every: { millis: 500 }, name: 'foo-bar' });
schedule.add(new Foo()).add(new Bar());
await schedule.flush();
// Or on a cron expression in a time zone: `new TimeScheduler(queue, { cron: '0 3 * * *', timezone: 'Europe/Paris' })`.

// Recurring after each run: the next run starts 0.4 s after the last one finished.
await queue.schedule('gather', gather.with(), { after: { wait: 0.4 } });

// Adaptive: runs more often while probes succeed, backs off when they fail.
await new AIMDScheduler(queue, { name: 'probe', minMs: 100, maxMs: 800, stepMs: 200 }).add(probe.with()).flush();

// Workers fire the schedules too (each tick once, however many pools run); shell tasks are opt-in.
const pool = new WorkerPool({ queue, routes: ['foo'], concurrency: 4, allowShell: true, handleSignals: false, pollIntervalMs: 50 });
await pool.start();

const shell = await queue.shell('echo hello {name}', { name: '; not a shell' }, { routes: ['foo'] });
console.log('shell task:', await shell.result({ timeoutMs: 5_000 }));

await new Promise((resolve) => setTimeout(resolve, 3_000));
await pool.close();
for (const s of await queue.schedules()) console.log(`schedule ${s.id}: fired ${s.firedCount} times`);
for (const id of ['foo-bar', 'gather', 'probe']) await queue.removeSchedule(id);
await queue.close();
