// The quick start: fire jobs at the embedded SQLite default and watch a worker run them.
// Run it with `pnpm demo` from the repository root.
import { WorkerPool } from '@skq/worker';
import { SayHello, SayHelloToSomeone, add, queue } from './jobs.js';

// A worker pool in this process, so the demo needs nothing else running.
// In production run `skunq work -q demo -r foo -f jobs.ts` in its own process instead.
const pool = new WorkerPool({ queue, routes: ['foo'], concurrency: 4, handleSignals: false });
await pool.start();

const sum = await add.fire(4, 5);
console.log('fired add(4, 5) as', sum.id, 'state:', await sum.state());
console.log('result:', await sum.result({ timeoutMs: 10_000 }));
console.log('state:', await sum.state());
console.log('log:', (await sum.logs()).map((l) => l.line));

const later = await add.fireAt({ seconds: 0.5 }, 20, 22);
console.log('fired add(20, 22) to run in 0.5 s, state:', await later.state());
console.log('result:', await later.result({ timeoutMs: 10_000 }));

await (await queue.push(new SayHello())).result({ timeoutMs: 10_000 });
const greeting = await queue.push(new SayHelloToSomeone().with('Jed'));
console.log('greeting:', await greeting.result({ timeoutMs: 10_000 }));

// A conjunction: one compound job that runs its parts in order on one worker.
const both = await queue.push(new SayHello().and(new SayHelloToSomeone().with('Ian')).and(add.with(1, 2)));
console.log('conjunction results:', await both.result({ timeoutMs: 10_000 }));

try {
  await add.fire(4, 'five' as never);
} catch (err) {
  console.log('bad arguments are refused:', (err as Error).message);
}

await pool.close();
await queue.close();
console.log('demo done');
