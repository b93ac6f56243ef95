// Property tests of the monitor's defences on a fixed seed: fuzzed paths never reach a file outside its
// assets or an error page with a stack, and fuzzed actions change nothing unless they carry the session,
// the CSRF token and a same-origin request, all three.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { tempSqlite } from '@skq/testing';
import { startMonitorServer, type MonitorServer } from '@skq/web';
import { call, signIn } from './fixtures/http-call.js';

const SEED = 20_261_124;
const TOKEN = 'fuzz-test-token-0123456789abcdef';

/** Pieces of hostile paths: traversal in every encoding, NULs, backslashes, the monitor's own segments. */
const segment = fc.constantFrom(
  '..', '.', '%2e%2e', '%2E%2E', '%252e%252e', '..%2f', '..%5c', '%2f', '%5c', '\\', '%00', '%',
  'assets', 'monitor.js', 'queues', 'fuzzq', 'jobs', 'actions', 'pause', 'workers', 'schedules', 'json', 'triggers', 'events', 'metrics', 'login',
  'package.json', 'etc', 'passwd', 'src', 'node_modules', '~', '%7e', 'é', '%ff', '....', '.%2e', ';', '?part=result', '#x',
);
const hostilePath = fc.array(segment, { minLength: 1, maxLength: 7 }).map((parts) => parts.join('/'));

describe('the monitor under fuzzed requests', () => {
  const db = tempSqlite('monitor-fuzz');
  let server: MonitorServer;
  let queue: SkunkQueue;
  let cookie: string;
  let csrf: string;

  beforeAll(async () => {
    queue = new SkunkQueue('fuzzq', { backend: db.url });
    await queue.job({ name: 'fuzz-echo', routes: ['r'] }, async () => 1).fire();
    server = await startMonitorServer({ backend: db.url, port: 0, token: TOKEN });
    ({ cookie, csrf } = await signIn(server.url, TOKEN));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await queue.close();
    db.remove();
  });

  it('answers any path with its own pages or a refusal: never a file outside its assets, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(hostilePath, fc.boolean(), async (path, signedIn) => {
        const res = await call(`${server.url}/${path}`, { headers: signedIn ? { cookie } : {} });
        expect(res.status, path).toBeLessThan(500);
        expect(res.body).not.toContain('"name": "@skq/web"');
        expect(res.body).not.toMatch(/root:.*:0:0:/);
        expect(res.body).not.toMatch(/at [\w.<>]+ \(.*\.ts:\d+/); // no stack trace
        if (!signedIn && !/^(login|assets)/.test(path)) expect([303, 400, 401, 404], path).toContain(res.status);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('acts only with the session, the CSRF token and a same-origin request, all three', async () => {
    const session = fc.constantFrom('valid', 'none', 'forged');
    const token = fc.constantFrom('valid', 'none', 'stale', 'other-session');
    const origin = fc.constantFrom<string | undefined>(undefined, 'same', 'null', 'http://evil.example', 'http://127.0.0.1.evil.example', 'http://localhost:1');
    const site = fc.constantFrom<string | undefined>(undefined, 'same-origin', 'none', 'same-site', 'cross-site');
    const action = fc.constantFrom('pause', 'resume');
    await fc.assert(
      fc.asyncProperty(session, token, origin, site, action, async (s, t, o, f, act) => {
        const before = await queue.isPaused();
        const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
        if (s === 'valid') headers.cookie = cookie;
        if (s === 'forged') headers.cookie = `${cookie.split('=')[0]}=forged-${'x'.repeat(40)}`;
        if (o !== undefined) headers.origin = o === 'same' ? server.url : o;
        if (f !== undefined) headers['sec-fetch-site'] = f;
        const fields = new URLSearchParams({ back: 'queues/fuzzq' });
        if (t === 'valid') fields.set('_csrf', csrf);
        if (t === 'stale') fields.set('_csrf', `${csrf.slice(0, -4)}abcd`);
        if (t === 'other-session') fields.set('_csrf', 'a'.repeat(csrf.length));
        const res = await call(`${server.url}/queues/fuzzq/actions/${act}`, { method: 'POST', body: fields.toString(), headers });
        const allowed = s === 'valid' && t === 'valid' && (o === undefined || o === 'same' || (o === 'null' && f === 'same-origin')) && (f === undefined || f === 'same-origin' || f === 'none');
        if (allowed) {
          expect(res.status).toBe(303);
          expect(await queue.isPaused()).toBe(act === 'pause');
        } else {
          expect([401, 403], JSON.stringify({ s, t, o, f })).toContain(res.status);
          expect(await queue.isPaused()).toBe(before);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
