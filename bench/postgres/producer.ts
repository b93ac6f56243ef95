// The latency case's producer of `pnpm bench:postgres` (run.ts starts it; by hand:
// node --import tsx producer.ts <library> <postgres URL> <count> <interval ms>).
// A process of its own, so that the consumer's process only consumes: it fires <count> jobs one at a time at a
// steady pace, each carrying its fire time `t`.
import { fireAtSteadyPace } from '../steady-pace.js';
import { LIBRARIES } from './libraries.js';

const [name, url, count, intervalMs] = process.argv.slice(2);
const library = LIBRARIES.find((l) => l.name === name)!;
const producer = await library.producer(url!);
await fireAtSteadyPace(Number(count), Number(intervalMs), (data) => producer.addOne(data));
await producer.close();
process.exit(0);
