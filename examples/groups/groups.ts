// Groups on the embedded default: at most 2 jobs at once per customer, fair turns between customers,
// at most 5 calls a second to a third-party API across every worker, and a handler that gets an HTTP
// 429 holding its whole group. Run it with `pnpm --filter @skq/example-groups start`.
import { RateLimited, SkunkQueue, currentJob } from '@skq/core';
import { WorkerPool } from '@skq/worker';

const queue = new SkunkQueue('groups-demo');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// At most 2 jobs of one customer at once, whatever runs them: a limit kept by the store.
await queue.setGroupLimits('*', { concurrency: 2 });
const running = new Map<string, number>();
const most = new Map<string, number>();
const finished: string[] = [];
const report = queue.job({ name: 'report', routes: ['reports'], group: (customer: string) => customer }, async (customer: string) => {
  running.set(customer, (running.get(customer) ?? 0) + 1);
  most.set(customer, Math.max(most.get(customer) ?? 0, running.get(customer)!));
  await sleep(20);
  running.set(customer, running.get(customer)! - 1);
  finished.push(customer);
});

// At most 5 calls a second to the API, across every worker process; a 429 holds the whole group.
await queue.setGroupLimits('weather-api', { rate: { max: 5, perMs: 1_000 } });
// The limit counts starts by the store's clock, as the `started` events carry them (a handler begins a few ms later).
const starts: number[] = [];
const offStarts = await queue.on('started', (event) => event.route === 'api' && starts.push(event.at));
let answered429 = false;
const forecast = queue.job({ name: 'forecast', routes: ['api'] }, async (city: string) => {
  if (!answered429) {
    answered429 = true;
    // As if the API said "429 Too Many Requests, Retry-After: 1": the group waits a second, no attempt used.
    throw new RateLimited(1_000);
  }
  return `sunny in ${city} (attempt ${currentJob().attempt})`;
});

const pool = new WorkerPool({ queue, routes: ['reports', 'api'], concurrency: 10, handleSignals: false });
await pool.start();

// A big customer fires 30 reports, then a small one fires 3: the small one's are not behind the 30.
const big = await queue.pushMany(Array.from({ length: 30 }, () => report.with('big-customer')));
const small = await queue.pushMany(Array.from({ length: 3 }, () => report.with('small-customer')));
await Promise.all([...big, ...small].map((handle) => handle.result()));
console.log(`most reports at once: big-customer ${most.get('big-customer')}, small-customer ${most.get('small-customer')}`);
console.log(`small-customer finished by report ${finished.lastIndexOf('small-customer') + 1} of ${finished.length}`);

const cities = ['Oslo', 'Lima', 'Pune', 'Kobe', 'Graz', 'Cork', 'Baku', 'Nice'];
const forecasts = await queue.pushMany(cities.map((city) => forecast.with(city)), { group: 'weather-api' });
const answers = await Promise.all(forecasts.map((handle) => handle.result()));
console.log(`first forecast: ${answers[0]}`);
// The first 5 calls start at once (the rate); the rest wait for the 429's hold and the rate's window.
await offStarts();
starts.sort((a, b) => a - b);
const offsets = starts.map((at) => ((at - starts[0]!) / 1_000).toFixed(1));
const busiest = Math.max(...starts.map((at) => starts.filter((other) => other >= at && other - at < 1_000).length));
console.log(`forecast calls started at ${offsets.join(', ')} s: at most ${busiest} in any second`);
console.log('groups now:', (await queue.groups()).groups.map((g) => `${g.group} queued ${g.queued} running ${g.running}`).join('; ') || 'none waiting');

await pool.close();
await queue.close();
