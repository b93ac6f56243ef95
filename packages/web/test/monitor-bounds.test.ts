// What the monitor holds and sends stays bounded whatever the store holds or a client asks: a page of
// the overview, a job page with megabytes of errors and logs, a stream's list of queues and jobs, and
// the bytes buffered for a stream whose client stopped reading.
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue, currentJob } from '@skq/core';
import { WorkerPool } from '@skq/worker';
import { tempSqlite } from '@skq/testing';
import { createMonitor, startMonitorServer, type Monitor, type MonitorServer } from '@skq/web';
import { call, signIn } from './fixtures/http-call.js';

const TOKEN = 'bounds-test-token-0123456789abcdef';
const QUEUES = Array.from({ length: 60 }, (_, i) => `bq-${String(i).padStart(3, '0')}`);
const quiet = { warn() {}, info() {} };

/** Reads a server-sent event stream until `done` says so, or the deadline passes; resolves to its messages. */
function readStream(url: string, cookie: string, done: (messages: { event: string; data: string }[]) => boolean, timeoutMs = 20_000): Promise<{ event: string; data: string }[]> {
  return new Promise((resolve, reject) => {
    const messages: { event: string; data: string }[] = [];
    let buffer = '';
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the stream did not say what was awaited within ${timeoutMs} ms: ${JSON.stringify(messages.map((m) => m.event))}`));
    }, timeoutMs);
    const req = request(url, { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        reject(new Error(`the stream answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(text)?.[1];
          if (event) messages.push({ event, data: /^data: (.*)$/m.exec(text)?.[1] ?? '' });
        }
        if (done(messages)) {
          clearTimeout(timer);
          req.destroy();
          resolve(messages);
        }
      });
    });
    req.on('error', () => {});
    req.end();
  });
}

describe('the monitor keeps its pages and streams bounded', () => {
  const db = tempSqlite('monitor-bounds');
  let server: MonitorServer;
  let cookie: string;
  const queues: SkunkQueue[] = [];
  const get = (path: string) => call(`${server.url}/${path}`, { headers: { cookie } });

  beforeAll(async () => {
    for (const name of QUEUES) {
      const queue = new SkunkQueue(name, { backend: db.url });
      queues.push(queue);
      await queue.job({ name: 'noop', routes: ['r'] }, async () => null).fire();
    }
    server = await startMonitorServer({ backend: db.url, port: 0, token: TOKEN });
    ({ cookie } = await signIn(server.url, TOKEN));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await Promise.all(queues.map((q) => q.close()));
    db.remove();
  });

  it('pages the overview, each queue on one page, and its stream URL names no queue', async () => {
    const seen: string[] = [];
    let path = '';
    for (let pages = 0; pages < QUEUES.length; pages += 1) {
      const page = await get(path);
      expect(page.status).toBe(200);
      const cards = [...page.body.matchAll(/class="card queue-card" data-queue="([^"]+)"/g)].map((m) => m[1]!);
      expect(cards.length).toBeGreaterThan(0);
      expect(cards.length).toBeLessThanOrEqual(25);
      seen.push(...cards);
      // The header lists a bounded number of queues too.
      expect((page.body.match(/<nav>[\s\S]*?<\/nav>/)?.[0].match(/<a /g) ?? []).length).toBeLessThanOrEqual(30);
      const stream = /data-events="([^"]*)"/.exec(page.body)![1]!.replace(/&amp;/g, '&');
      expect(stream.length).toBeLessThan(64);
      expect(stream).not.toContain('bq-');
      // The page's stream follows the page's queues: counts come for each of them.
      const wanted = new Set(cards);
      const messages = await readStream(new URL(stream, `${server.url}/`).href, cookie, (m) => m.filter((x) => x.event === 'counts').length >= cards.length);
      for (const m of messages.filter((x) => x.event === 'counts')) expect(wanted.has((JSON.parse(m.data) as { queue: string }).queue)).toBe(true);
      const next = /<a rel="next" href="\.\/([^"]*)"/.exec(page.body)?.[1];
      if (!next) break;
      path = next.replace(/&amp;/g, '&');
    }
    expect(seen).toEqual(QUEUES);
  });

  it('refuses a stream asking for too many queues or jobs, and follows a repeated queue once', async () => {
    expect((await get(`events?queues=${Array(2_000).fill('bq-000').join(',')}`)).status).toBe(400);
    expect((await get(`events?queues=${QUEUES.join(',')}`)).status).toBe(400);
    expect((await get(`events?queues=bq-000&jobs=${Array.from({ length: 201 }, (_, i) => `j${i}`).join(',')}`)).status).toBe(400);
    expect((await get(`events?queues=bq-000&jobs=${Array(2_000).fill('j1').join(',')}`)).status).toBe(400);
    // Jobs are followed in one queue: a job is never looked for in each of many.
    expect((await get('events?queues=bq-000,bq-001&jobs=j1')).status).toBe(400);
    const messages = await readStream(`${server.url}/events?queues=bq-000,bq-000,bq-001,bq-000&jobs=`, cookie, (m) => m.filter((x) => x.event === 'counts').length >= 2);
    expect(messages.map((m) => (JSON.parse(m.data) as { queue: string }).queue).sort()).toEqual(['bq-000', 'bq-001']);
    const followed = await readStream(`${server.url}/events?queues=bq-000,bq-000&jobs=nope,nope`, cookie, (m) => m.some((x) => x.event === 'jobs'));
    expect(followed.filter((m) => m.event === 'counts').length).toBe(1);
    expect(JSON.parse(followed.find((m) => m.event === 'jobs')!.data)).toEqual([{ id: 'nope', state: 'removed', attempts: 0, progress: null, finishedAt: null }]);
  });

  it('cuts errors, stacks and log lines on a job page, with all of each a link away', async () => {
    const queue = queues[1]!;
    const huge = queue.job({ name: 'huge-error', routes: ['r'], retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 1, maxDelayMs: 1, jitter: 0 } } }, async () => {
      throw new Error('e'.repeat(2_000_000));
    });
    const chatty = queue.job({ name: 'chatty', routes: ['r'] }, async () => {
      for (let i = 0; i < 20; i += 1) currentJob().log(`${i}`.padEnd(1_000_000, 'l'));
      return 'said a lot';
    });
    const pool = new WorkerPool({ queue, routes: ['r'], logger: quiet });
    await pool.start();
    const failing = await huge.fire();
    const talking = await chatty.fire();
    await expect(failing.result({ timeoutMs: 30_000 })).rejects.toBeDefined();
    await talking.result({ timeoutMs: 30_000 });
    await pool.close();

    const errorPage = await get(`queues/${queue.name}/jobs/${failing.id}`);
    expect(errorPage.status).toBe(200);
    expect(errorPage.body.length).toBeLessThan(100_000);
    expect(errorPage.body).toMatch(/Cut at 4\.1 KB of/);
    const errorLink = /href="\.\.\/\.\.\/\.\.\/(queues\/[^"]*json\?part=error[^"]*)"/.exec(errorPage.body)![1]!.replace(/&amp;/g, '&');
    const stored = (await queue.getRecord(failing.id))!.deliveries[0]!.error!;
    expect((JSON.parse((await get(errorLink)).body) as { message: string }).message).toBe(stored.message);

    const logPage = await get(`queues/${queue.name}/jobs/${talking.id}`);
    expect(logPage.status).toBe(200);
    expect(logPage.body.length).toBeLessThan(200_000);
    const logLink = /href="\.\.\/\.\.\/\.\.\/(queues\/[^"]*json\?part=logs)"/.exec(logPage.body)![1]!.replace(/&amp;/g, '&');
    const lines = JSON.parse((await get(logLink)).body) as { line: string }[];
    expect(lines.map((l) => l.line.length)).toEqual((await queue.logs(talking.id)).map((l) => l.line.length));
    // The link gives more than the page shows (the store may itself keep only the start of a huge line).
    expect(lines.filter((l) => l.line.length > 4_096).length).toBe(20);
  }, 60_000);
});

describe('a live stream whose client stops reading', () => {
  const db = tempSqlite('monitor-backpressure');
  let monitor: Monitor;
  let http: Server;
  // A Unix socket: the kernel buffers about 200 KB of it (TCP on loopback, megabytes), so a stall shows at once.
  const path = join(mkdtempSync(join(tmpdir(), 'skq-web-sse-')), 'monitor.sock');
  let queue: SkunkQueue;
  let pool: WorkerPool;
  const sockets: Socket[] = [];
  let release = false;

  beforeAll(async () => {
    queue = new SkunkQueue('slowq', { backend: db.url });
    await queue.job({ name: 'noop', routes: ['r'] }, async () => null).fire();
    monitor = createMonitor({ backend: db.url, token: false, queues: ['slowq'] });
    http = createServer(monitor.handle);
    http.on('connection', (s) => sockets.push(s));
    await new Promise<void>((resolve) => http.listen(path, resolve));
  });
  afterAll(async () => {
    release = true;
    await pool?.close();
    await monitor?.close();
    http?.closeAllConnections();
    await new Promise<void>((resolve) => http?.close(() => resolve()));
    await queue?.close();
    db.remove();
  });

  it('keeps what it buffers for that client bounded, and brings it up to date when it reads again', async () => {
    let reports = 0;
    const busy = queue.job({ name: 'busy', routes: ['r'] }, async (n: number) => {
      while (!release) {
        reports += 1;
        currentJob().progress({ n, reports, pad: 'p'.repeat(15_000) });
        await sleep(50);
      }
      return n;
    });
    pool = new WorkerPool({ queue, routes: ['r'], concurrency: 20, logger: quiet });
    const handles = await Promise.all(Array.from({ length: 20 }, (_, n) => busy.fire(n)));
    const ids = handles.map((h) => h.id);
    const before = sockets.length;
    const client = connect(path);
    await new Promise<void>((resolve) => client.once('connect', resolve));
    await expect.poll(() => sockets.length).toBe(before + 1);
    client.write(`GET /events?queues=slowq&jobs=${ids.join(',')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    client.pause(); // It never reads: the kernel's buffers fill, then the server's.
    await pool.start();
    const served = sockets.at(-1)!;
    let maxBuffered = 0;
    const deadline = Date.now() + 60_000;
    while (reports < 20 * 200 && Date.now() < deadline) {
      maxBuffered = Math.max(maxBuffered, served.writableLength);
      await sleep(50);
    }
    expect(reports).toBeGreaterThanOrEqual(20 * 200);
    // The socket's own buffer filled (the test did stall the stream), and what the server held stayed about a message.
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThan(1_000_000);

    release = true;
    await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
    // Reading again, the client learns where each job ended.
    let text = '';
    client.setEncoding('utf8');
    const finished = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${finished.size} of 20 jobs were reported succeeded`)), 30_000);
      client.on('data', (chunk: string) => {
        text += chunk;
        for (const m of text.matchAll(/"id":"([^"]+)","state":"succeeded"/g)) finished.add(m[1]!);
        text = text.slice(-20_000);
        if (finished.size === 20) {
          clearTimeout(timer);
          resolve();
        }
      });
      client.resume();
    });
    client.destroy();
  }, 120_000);
});
