// One step of the SQLite bench, in a fresh process: node step.ts <step> <library> <file> <jobs> [arg] [batch].
// `batch` (process only) is the floor's claim size; the queue libraries size their own claims.
// Prints one JSON line with its figures. A step that outlives BENCH_STEP_BUDGET_MS (default 60 s)
// stops and reports the rate of what it got done, so a slow library costs bounded time.
import { LIBRARIES, type JobData } from './libraries.js';

const [step, libName, file, jobsArg, arg, batchArg] = process.argv.slice(2);
const library = LIBRARIES.find((l) => l.name === libName);
if (!library || !file || !jobsArg) throw new Error(`usage: step.ts <durability|init|enqueue|bulk|process|latency|steady|idle> <library> <file> <jobs (idle: ms)> [arg]`);
const jobs = Number(jobsArg);
const budgetMs = Number(process.env.BENCH_STEP_BUDGET_MS ?? 60_000);
const print = (figures: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(figures)}\n`);
const now = () => performance.timeOrigin + performance.now();

async function enqueue(bulk: boolean): Promise<void> {
  const producer = await library!.producer(file!);
  const start = performance.now();
  let n = 0;
  while (n < jobs && performance.now() - start < budgetMs) {
    if (bulk) {
      await producer.addBulk(Array.from({ length: Math.min(1_000, jobs - n) }, (_, i) => ({ n: n + i })));
      n = Math.min(jobs, n + 1_000);
    } else {
      await producer.addOne({ n });
      n += 1;
    }
  }
  const ms = performance.now() - start;
  await producer.close();
  print({ jobs: n, rate: (n / ms) * 1000 });
}

async function processing(concurrency: number, batch: number | undefined): Promise<void> {
  let handled = 0;
  const start = performance.now();
  const consumer = await library!.consumer(file!, concurrency, () => void (handled += 1), batch);
  const finished = await Promise.race([consumer.done(jobs).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), budgetMs).unref())]);
  const ms = performance.now() - start;
  const done = finished ? jobs : handled;
  await consumer.close();
  print({ jobs: done, rate: (done / ms) * 1000 });
}

/** A consumer at concurrency 10 on an empty queue: the share of a core its process uses while it waits. */
async function idle(ms: number): Promise<void> {
  const consumer = await library!.consumer(file!, 10);
  // Settle first: starting up is not idling.
  await new Promise((r) => setTimeout(r, 2_000));
  const before = process.cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(before);
  const elapsed = performance.now() - start;
  await consumer.close();
  print({ cpuPercent: ((used.user + used.system) / 1000 / elapsed) * 100 });
}

/** An idle consumer at concurrency 10 that records each job's delay from its fire time to its start. */
async function latency(): Promise<void> {
  const delays: number[] = [];
  const consumer = await library!.consumer(file!, 10, (data: JobData) => {
    if (data.t !== undefined) delays.push(now() - data.t);
  });
  process.stdout.write('ready\n');
  await Promise.race([consumer.done(jobs), new Promise((r) => setTimeout(r, budgetMs).unref())]);
  await consumer.close();
  print({ delays });
}

/** Fires `jobs` jobs one at a time, one every `arg` ms, each carrying its fire time. */
async function steady(intervalMs: number): Promise<void> {
  const producer = await library!.producer(file!);
  const start = performance.now();
  for (let n = 0; n < jobs; n += 1) {
    const wait = start + n * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await producer.addOne({ n, t: now() });
  }
  await producer.close();
  print({ jobs });
}

if (step === 'durability') {
  const producer = await library.producer(file);
  print({ durability: await producer.durability() });
  await producer.close();
}
else if (step === 'init') {
  await (await library.producer(file)).close();
  print({});
}
else if (step === 'enqueue' || step === 'bulk') await enqueue(step === 'bulk');
else if (step === 'process') await processing(Number(arg ?? 1), batchArg === undefined ? undefined : Number(batchArg));
else if (step === 'latency') await latency();
else if (step === 'idle') await idle(jobs);
else if (step === 'steady') await steady(Number(arg ?? 5));
else throw new Error(`unknown step ${step}`);
process.exit(0);
