// The monitor's server time on a large store: 100,000 jobs on SQLite and on Redis.
// For each page it times SAMPLES requests over loopback HTTP (after WARMUP) and prints p50 and p99.
// Target (issue 10): p50 ≤ 50 ms and p99 ≤ 200 ms for each page on both backends.
//
//   pnpm bench:web                       # 100,000 jobs, sqlite and redis
//   WEB_JOBS=20000 WEB_BACKENDS=sqlite pnpm bench:web
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireBackend, leaseOf, type NewJob, type StorageBackend } from '@skq/core/backend';
import { startRedis } from '@skq/testing/servers';
import { startMonitorServer } from '@skq/web';
import { fmt, median, percentile } from '../stats.js';

const JOBS = Number(process.env.WEB_JOBS ?? 100_000);
const BACKENDS = (process.env.WEB_BACKENDS ?? 'sqlite,redis').split(',');
const SAMPLES = Number(process.env.WEB_SAMPLES ?? 40);
const WARMUP = 5;
const QUEUE = 'bench';
const TOKEN = 'bench-web-token-0123456789';
const NAMES = ['send-email', 'resize-image', 'build-report'];

/** Enqueues JOBS jobs, then ends 70 % succeeded, 10 % failed, and leaves 15 % queued and 5 % scheduled. */
async function seed(backend: StorageBackend): Promise<string> {
  const now = Date.now();
  const options = { attempts: 1, backoff: { type: 'fixed' as const, delayMs: 0, maxDelayMs: 0, jitter: 0 }, timeoutMs: null };
  let someId = '';
  for (let start = 0; start < JOBS; start += 1_000) {
    const batch: NewJob[] = [];
    for (let i = start; i < Math.min(JOBS, start + 1_000); i += 1) {
      const id = `job-${String(i).padStart(7, '0')}-${Math.random().toString(36).slice(2, 8)}`;
      if (i === Math.floor(JOBS / 3)) someId = id;
      const delayed = i % 20 === 19;
      batch.push({
        id, queue: QUEUE, name: NAMES[i % NAMES.length]!, args: [{ to: `user${i}@example.com`, n: i }], routes: ['main'], type: 'direct',
        priority: 0, runAt: delayed ? now + 86_400_000 : now - JOBS + i, createdAt: now - JOBS + i, options,
      });
    }
    await backend.enqueue(batch);
  }
  const toEnd = Math.floor(JOBS * 0.8);
  for (let ended = 0; ended < toEnd; ) {
    const { deliveries } = await backend.claim({ queue: QUEUE, route: 'main', workerId: 'seeder', limit: 500, leaseMs: 600_000 });
    if (deliveries.length === 0) break;
    await Promise.all(
      deliveries.map((d, k) =>
        (ended + k) % 8 === 7
          ? backend.fail(QUEUE, leaseOf(d), { error: { name: 'Error', message: 'boom', stack: 'Error: boom\n    at seed' } })
          : backend.complete(QUEUE, leaseOf(d), { ok: true, n: ended + k }),
      ),
    );
    ended += deliveries.length;
  }
  return someId;
}

async function timed(url: string, cookie: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { headers: { cookie } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  return performance.now() - started;
}

async function measure(kind: string, url: string): Promise<{ kind: string; rows: [string, number, number][] }> {
  const backend = await acquireBackend(url);
  const seedStarted = performance.now();
  const someId = await seed(backend);
  console.log(`${kind}: seeded ${fmt(JOBS)} jobs in ${fmt((performance.now() - seedStarted) / 1000, 1)} s`);
  const server = await startMonitorServer({ backend, port: 0, token: TOKEN, queues: [QUEUE] });
  try {
    const signIn = await fetch(`${server.url}/?token=${TOKEN}`, { redirect: 'manual' });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const base = `${server.url}/queues/${QUEUE}`;
    // Page 50 of the failed tab (or its last page, on a small run): follow the cursors there once, then time that page.
    let deep = `${base}?state=failed`;
    let pageNumber = 1;
    for (; pageNumber < 50; pageNumber += 1) {
      const html = await (await fetch(deep, { headers: { cookie } })).text();
      const next = /rel="next" href="([^"]+)"/.exec(html);
      if (!next) break;
      deep = new URL(next[1]!.replace(/&amp;/g, '&'), deep).href;
    }
    const pages: [string, string][] = [
      ['overview', `${server.url}/`],
      ['queue, all jobs, page 1', base],
      ['failed tab, page 1', `${base}?state=failed`],
      [`failed tab, page ${pageNumber}`, deep],
      ['search by name', `${base}?search=report`],
      ['search by id', `${base}?search=${someId}`],
      ['job page', `${base}/jobs/${someId}`],
    ];
    const rows: [string, number, number][] = [];
    for (const [label, pageUrl] of pages) {
      for (let i = 0; i < WARMUP; i += 1) await timed(pageUrl, cookie);
      const times: number[] = [];
      for (let i = 0; i < SAMPLES; i += 1) times.push(await timed(pageUrl, cookie));
      rows.push([label, median(times), percentile(times, 99)]);
    }
    return { kind, rows };
  } finally {
    await server.close();
    await backend.close();
  }
}

const results: Awaited<ReturnType<typeof measure>>[] = [];
for (const kind of BACKENDS) {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'skq-bench-web-'));
    try {
      // Every job kept: the default retention (the newest 1,000 succeeded) would leave the pages little to show.
      results.push(await measure('sqlite', `sqlite:${join(dir, 'bench.db')}?removeOnComplete=false&removeOnFail=false`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else if (kind === 'redis') {
    const redis = await startRedis();
    try {
      results.push(await measure('redis', redis.url));
    } finally {
      await redis.stop();
    }
  } else {
    throw new Error(`WEB_BACKENDS: unknown backend "${kind}" (sqlite, redis)`);
  }
}

console.log(`\nskunq web: server time per page over loopback HTTP, ${fmt(JOBS)} jobs, ${SAMPLES} samples each (target p50 ≤ 50 ms, p99 ≤ 200 ms)\n`);
console.log(`| page | ${results.map((r) => `${r.kind} p50 | ${r.kind} p99`).join(' | ')} |`);
console.log(`|---|${results.map(() => '---:|---:').join('|')}|`);
for (let i = 0; i < results[0]!.rows.length; i += 1) {
  const cells = results.map((r) => `${fmt(r.rows[i]![1], 1)} ms | ${fmt(r.rows[i]![2], 1)} ms`);
  console.log(`| ${results[0]!.rows[i]![0]} | ${cells.join(' | ')} |`);
}
const misses = results.flatMap((r) => r.rows.filter(([, p50, p99]) => p50 > 50 || p99 > 200).map(([label]) => `${r.kind} ${label}`));
console.log(misses.length ? `\nover target: ${misses.join(', ')}` : '\nevery page within target');
