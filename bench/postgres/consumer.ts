// The consumer process of `pnpm bench:postgres` (run.ts starts it; by hand:
// node --import tsx consumer.ts <library> <postgres URL> <concurrency> <count> [keep]).
// Prints "ready" once the library consumes, then, after <count> completions, `done {"ms":…,"delays":[…]}`: ms from
// starting the library's consumer to the last completion; delays (ms from send to handler start) for jobs carrying `t`.
import { LIBRARIES } from './libraries.js';
import { sharedClockMs } from '../steady-pace.js';

const [name, url, concurrency, count, keep] = process.argv.slice(2);
const library = LIBRARIES.find((l) => l.name === name);
if (!library || !url) {
  console.error(`usage: consumer.ts <${LIBRARIES.map((l) => l.name).join('|')}> <postgres URL> <concurrency> <count> [keep]`);
  process.exit(2);
}
const delays: number[] = [];
// The clock starts after the modules are loaded: node and tsx starting up are no part of any library.
const start = performance.now();
const consumer = await library.consumer(url, Number(concurrency), (data) => {
  if (data.t !== undefined) delays.push(sharedClockMs() - data.t);
}, keep === 'keep');
process.stdout.write('ready\n');
await consumer.done(Number(count));
const ms = performance.now() - start;
await consumer.close();
process.stdout.write(`done ${JSON.stringify({ ms, delays })}\n`);
process.exit(0);
