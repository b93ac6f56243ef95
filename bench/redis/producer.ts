// The latency case's producer: a separate process that fires jobs at a steady pace, each carrying
// its fire time, at an idle worker in the bench process.
import { fireAtSteadyPace } from '../steady-pace.js';
import { LIBRARIES } from './libraries.js';

const [libName, port, queue, count, intervalMs] = process.argv.slice(2);
const library = LIBRARIES.find((l) => l.name === libName)!;
const producer = await library.producer(Number(port), queue!);
await fireAtSteadyPace(Number(count), Number(intervalMs), (data) => producer.addOne(data));
await producer.close();
