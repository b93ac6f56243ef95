import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue, SkqError } from '@skq/core';
import { WorkerPool } from '@skq/worker';
import { tempSqlite } from '@skq/testing';
import { createMonitor, startMonitorServer, type MonitorServer } from '@skq/web';
import { call, signIn } from './fixtures/http-call.js';

const TOKEN = 'http-test-token-0123456789abcdef';

describe('the monitor over HTTP', () => {
  const db = tempSqlite('monitor-http');
  let server: MonitorServer;
  let queue: SkunkQueue;
  let cookie: string;
  let csrf: string;
  let bigId: string;
  let xssId: string;

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    call(`${server.url}/${path}`, { method: 'POST', body: form(fields), headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  const get = (path: string, headers: Record<string, string> = {}) => call(`${server.url}/${path}`, { headers: { cookie, ...headers } });

  beforeAll(async () => {
    queue = new SkunkQueue('httpq', { backend: db.url });
    const big = queue.job({ name: 'big', routes: ['r'] }, async () => 'x'.repeat(5_000_000));
    const echo = queue.job({ name: 'echo', routes: ['r'] }, async (...args: unknown[]) => args);
    const pool = new WorkerPool({ queue, routes: ['r'] });
    await pool.start();
    bigId = (await (await big.fire()).result({ timeoutMs: 20_000 }), (await queue.list({ name: 'big' })).jobs[0]!.id);
    const xss = await echo.fire('<script>alert(1)</script>', '"><img src=x onerror=alert(2)>');
    await xss.result({ timeoutMs: 10_000 });
    xssId = xss.id;
    await pool.close();
    server = await startMonitorServer({ backend: db.url, port: 0, token: TOKEN });
    ({ cookie, csrf } = await signIn(server.url, TOKEN));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await queue.close();
    db.remove();
  });

  it('sends every page to sign-in without the cookie, and refuses a wrong token', async () => {
    expect((await call(`${server.url}/queues/httpq`)).headers.location).toBe('../login');
    const wrong = await call(`${server.url}/login`, { method: 'POST', body: form({ token: 'not-the-token-at-all' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await call(`${server.url}/?token=wrong-token-wrong-token`)).status).toBe(401);
    expect((await call(`${server.url}/events?queues=httpq`)).status).toBe(401);
  });

  it('refuses actions without the cookie, without the CSRF token, or from another site', async () => {
    const fields = { _csrf: csrf, back: 'queues/httpq' };
    expect((await call(`${server.url}/queues/httpq/actions/pause`, { method: 'POST', body: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(401);
    expect((await post('queues/httpq/actions/pause', { back: '' })).status).toBe(403);
    expect((await post('queues/httpq/actions/pause', { ...fields, _csrf: 'stale' })).status).toBe(403);
    expect((await post('queues/httpq/actions/pause', fields, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post('queues/httpq/actions/pause', fields, { origin: 'http://evil.example' })).status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    const done = await post('queues/httpq/actions/pause', fields, { origin: server.url, 'sec-fetch-site': 'same-origin' });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('../../../queues/httpq');
    expect(await queue.isPaused()).toBe(true);
    // The notice comes once, from a cookie: no URL can make a page say something.
    const notice = String(done.headers['set-cookie']).split(';')[0]!;
    const page = await get('queues/httpq', { cookie: `${cookie}; ${notice}` });
    expect(page.body).toContain('Paused queue httpq.');
    expect((await post('queues/httpq/actions/resume', fields)).status).toBe(303);
    expect(await queue.isPaused()).toBe(false);
  });

  it('never redirects an action outside the monitor', async () => {
    for (const back of ['https://evil.example/', '//evil.example', '../../../etc', 'queues/../../x', '/\\evil']) {
      const res = await post('queues/httpq/actions/resume', { _csrf: csrf, back });
      expect(res.headers.location).toBe('../../../');
    }
  });

  it('escapes what a job carries in every page that shows it', async () => {
    for (const path of [`queues/httpq/jobs/${xssId}`, 'queues/httpq', `queues/httpq?search=${encodeURIComponent('<script>')}`]) {
      const { body, status } = await get(path);
      expect(status).toBe(200);
      expect(body).not.toContain('<script>alert');
      expect(body).not.toContain('<img src=x');
    }
    expect((await get(`queues/httpq/jobs/${xssId}`)).body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('cuts a 5 MB result to a few KB, with the full JSON a link away', async () => {
    const page = await get(`queues/httpq/jobs/${bigId}`);
    expect(page.body.length).toBeLessThan(30_000);
    const link = /href="([^"]*json\?part=result[^"]*)"/.exec(page.body)![1]!.replace(/&amp;/g, '&');
    const full = await get(`queues/httpq/jobs/${bigId}/${link.split('/').pop()}`);
    expect(full.headers['content-type']).toContain('application/json');
    expect((JSON.parse(full.body) as string).length).toBe(5_000_000);
  });

  it('signs out for good: the session cookie no longer opens a page afterwards', async () => {
    const session = await signIn(server.url, TOKEN);
    expect((await get('', { cookie: session.cookie })).status).toBe(200);
    const out = await post('logout', { _csrf: session.csrf }, { cookie: session.cookie });
    expect(out.status).toBe(303);
    const after = await get('', { cookie: session.cookie });
    expect(after.status).toBe(303);
    expect(after.headers.location).toBe('./login');
    expect((await get('events?queues=httpq', { cookie: session.cookie })).status).toBe(401);
    // Other sessions stay signed in.
    expect((await get('')).status).toBe(200);
  });

  it('answers 404 for names every object has, under /assets/', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString']) {
      const res = await call(`${server.url}/assets/${name}`);
      expect(res.status, name).toBe(404);
      expect(String(res.headers['content-type'])).not.toContain('function');
    }
  });

  it('never redirects an action outside the monitor through encoded dot segments', async () => {
    for (const back of ['queues/%2e%2e/%2e%2e/%2e%2e/x', 'queues/%2E%2E/%2e%2E/evil', 'queues/.%2e/.%2e/x', 'queues/httpq/%2e%2e/%2e%2e/%2e%2e/%2e%2e', 'queues/%2f%2fevil.example', 'queues/%5c%5cevil']) {
      const res = await post('queues/httpq/actions/resume', { _csrf: csrf, back });
      expect(res.headers.location, back).toBe('../../../');
    }
    // An ordinary page of the monitor is still where an action returns.
    expect((await post('queues/httpq/actions/resume', { _csrf: csrf, back: 'queues/httpq?state=failed' })).headers.location).toBe('../../../queues/httpq?state=failed');
  });

  it('takes the bearer scheme in any case (RFC 7235)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      expect((await call(`${server.url}/metrics`, { headers: { authorization: `${scheme} ${TOKEN}` } })).status, scheme).toBe(200);
    }
    expect((await call(`${server.url}/metrics`, { headers: { authorization: `bearer not-the-token-at-all` } })).status).toBe(401);
  });

  it('answers and closes a form dripped slowly, at its deadline', async () => {
    const started = Date.now();
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.write(`POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntoken=`);
    const drip = setInterval(() => socket.write('x'), 500);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 25_000, 'still open')).then(String)]);
    clearInterval(drip);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);

  it('serves only its own assets, and nothing through path traversal', async () => {
    expect((await call(`${server.url}/assets/monitor.js`)).status).toBe(200);
    for (const path of ['assets/../package.json', 'assets/..%2Fpackage.json', 'assets/%2e%2e/src/monitor.ts', 'assets/monitor.js%00.png', '..%2F..%2Fpackage.json']) {
      const res = await get(path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('"name": "@skq/web"');
    }
  });

  it('sets a strict CSP and answers only loopback host names (DNS rebinding)', async () => {
    const page = await get('');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]/);
    expect(page.body).not.toMatch(/ style="/);
    expect((await get('', { host: 'evil.example:5010' })).status).toBe(421);
  });

  it('serves Prometheus metrics to a bearer token', async () => {
    expect((await call(`${server.url}/metrics`)).status).toBe(401);
    const res = await call(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/skunq_jobs\{queue="httpq",route="r",state="succeeded"\} 2/);
    expect(res.body).toContain('skunq_workers{');
    expect(res.body).toMatch(/skunq_jobs_completed_total\{queue="httpq",route="r"\} 2/);
  });

  it('refuses every action when read-only, and hides the buttons', async () => {
    const ro = await startMonitorServer({ backend: db.url, port: 0, token: TOKEN, readOnly: true });
    try {
      const signIn = await call(`${ro.url}/?token=${TOKEN}`);
      const roCookie = String(signIn.headers['set-cookie']).split(';')[0]!;
      const page = await call(`${ro.url}/queues/httpq/jobs/${xssId}`, { headers: { cookie: roCookie } });
      expect(page.body).not.toContain('Remove</button>');
      const res = await call(`${ro.url}/queues/httpq/jobs/${xssId}/remove`, {
        method: 'POST',
        body: form({ _csrf: csrf }),
        headers: { cookie: roCookie, 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(403);
      expect(await queue.getRecord(xssId)).not.toBeNull();
    } finally {
      await ro.close();
    }
  });

  it('serves the trigger runners page from the triggerPositions reader it is given, asked with its backend URL', async () => {
    // This server was given no reader: no link, no page.
    expect((await get('')).body).not.toContain('href="./triggers"');
    expect((await get('triggers')).status).toBe(404);
    const asked: string[] = [];
    const triggerPositions = async (url: string) => {
      asked.push(url);
      return [{ runner: 'billing', collection: 'orders', at: Date.parse('2026-11-01T10:00:00Z') }];
    };
    const withReader = await startMonitorServer({ backend: db.url, port: 0, token: TOKEN, triggerPositions });
    try {
      const signedIn = await signIn(withReader.url, TOKEN);
      const overview = await call(`${withReader.url}/`, { headers: { cookie: signedIn.cookie } });
      expect(overview.body).toContain('href="./triggers"');
      const page = await call(`${withReader.url}/triggers`, { headers: { cookie: signedIn.cookie } });
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<td class="mono">billing<\/td><td class="mono">orders<\/td><td><time datetime="2026-11-01T10:00:00.000Z">/);
      expect(asked).toEqual([db.url]);
    } finally {
      await withReader.close();
    }
    expect(() => createMonitor({ backend: db.url, token: TOKEN, triggerPositions: 'mongodb' as never })).toThrow(/triggerPositions/);
  });

  it('refuses to listen beyond loopback without a token, and takes none shorter than 16 characters', async () => {
    const saved = process.env.SKQ_WEB_TOKEN;
    delete process.env.SKQ_WEB_TOKEN;
    try {
      await expect(startMonitorServer({ backend: db.url, host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      expect(() => createMonitor({ backend: db.url, token: 'short' })).toThrow(SkqError);
      expect(() => createMonitor({ backend: db.url } as never)).toThrow(/token/);
    } finally {
      if (saved !== undefined) process.env.SKQ_WEB_TOKEN = saved;
    }
  });

  it('streams job updates and counts as server-sent events', async () => {
    const echo = queue.job({ name: 'echo', routes: ['r'] }, async (...args: unknown[]) => args);
    const handle = await echo.fire('streamed');
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}/events?queues=httpq&jobs=${handle.id}`, { headers: { cookie } }, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          received.push(chunk);
          const text = received.join('');
          if (text.includes('event: counts') && text.includes('"state":"succeeded"')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (err) => (received.join('').includes('succeeded') ? resolve() : reject(err)));
      req.end();
    });
    const pool = new WorkerPool({ queue, routes: ['r'] });
    await pool.start();
    await done;
    await pool.close();
    expect(received.join('')).toContain(`"id":"${handle.id}"`);
  });

  it('coalesces thousands of events a second into a few messages', async () => {
    const echo = queue.job({ name: 'echo', routes: ['r'] }, async (...args: unknown[]) => args);
    const messages: number[] = [];
    let buffer = '';
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    let finished!: () => void;
    const all = new Promise<void>((resolve) => (finished = resolve));
    const req = request(`${server.url}/events?queues=httpq`, { headers: { cookie } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes('event: counts')) opened();
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const added = /^event: added\ndata: (.*)$/m.exec(message);
          if (added) messages.push((JSON.parse(added[1]!) as { count: number }).count);
          if (messages.reduce((a, b) => a + b, 0) >= 3_000) finished();
        }
      });
    });
    req.on('error', () => {});
    req.end();
    await open;
    const started = Date.now();
    for (let i = 0; i < 6; i += 1) await queue.pushMany(Array.from({ length: 500 }, (_, k) => echo.with(i, k)));
    await all;
    const elapsedMs = Date.now() - started;
    req.destroy();
    expect(messages.reduce((a, b) => a + b, 0)).toBe(3_000);
    // One message per 250 ms at most (plus the one in flight at each end), whatever the event rate.
    expect(messages.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 250) + 2);
    expect(messages.length).toBeLessThan(100);
  });

  it('shows a command as expired when the worker it went to died before obeying', async () => {
    // A registration with no process behind it, as a SIGKILLed worker leaves one: it lapses within a second.
    const backend = await queue.backend();
    await backend.registerWorker({ id: 'killed-worker', queue: 'httpq', routes: ['r'], hostname: 'h', pid: 1, startedAt: Date.now() }, 1_000);
    const res = await post('queues/httpq/workers/killed-worker/stop', { _csrf: csrf, back: 'queues/httpq' });
    expect(res.status).toBe(504);
    expect(res.body).toContain(
      '<span class="badge">COMMAND_EXPIRED</span> worker killed-worker stopped renewing its registration, which expired before it obeyed &quot;stop&quot;: it has died',
    );
  });
});
