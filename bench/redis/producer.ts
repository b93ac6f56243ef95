// The latency case's producer: a separate process that fires jobs at a steady pace, each carrying
// its fire time, at an idle worker in the bench process.
import { LIBRARIES } from './libraries.js';

const [libName, port, queue, count, intervalMs] = process.argv.slice(2);
const library = LIBRARIES.find((l) => l.name === libName)!;
const producer = await library.producer(Number(port), queue!);
const start = performance.now();
for (let n = 0; n < Number(count); n += 1) {
  const due = start + n * Number(intervalMs);
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await producer.addOne({ n, t: performance.timeOrigin + performance.now() });
}
await producer.close();
