import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { tempSqlite } from '@skq/testing';
import { expressApp } from './express.js';
import { fastifyApp } from './fastify.js';
import { nodeHttpServer } from './node-http.js';

const TOKEN = 'embedded-test-token-0123456789';
const db = tempSqlite('web-embedded');
let queue: SkunkQueue;
let jobId: string;

beforeAll(async () => {
  queue = new SkunkQueue('embedded', { backend: db.url });
  const job = queue.job({ name: 'hello', routes: ['r'] }, async () => 'hi');
  jobId = (await job.fire()).id;
});
afterAll(async () => {
  await queue.close();
  db.remove();
});

/** Walks the monitor mounted at `${origin}/admin/queues`: redirect to the slash, sign in, a page, an action. */
async function exercise(origin: string): Promise<void> {
  expect(await (await fetch(`${origin}/`)).text()).toBe('my app');
  const bare = await fetch(`${origin}/admin/queues`, { redirect: 'manual' });
  expect(bare.status).toBe(303);
  expect(bare.headers.get('location')).toBe('./queues/');
  const signIn = await fetch(`${origin}/admin/queues/?token=${TOKEN}`, { redirect: 'manual' });
  expect(signIn.headers.get('location')).toBe('./');
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
  const overview = await (await fetch(`${origin}/admin/queues/`, { headers: { cookie } })).text();
  expect(overview).toContain('href="./queues/embedded"');
  expect(overview).toContain('href="./assets/monitor.css"');
  const css = await fetch(`${origin}/admin/queues/assets/monitor.css`);
  expect(css.headers.get('content-type')).toContain('text/css');
  const jobPage = await (await fetch(`${origin}/admin/queues/queues/embedded/jobs/${jobId}`, { headers: { cookie } })).text();
  expect(jobPage).toContain(jobId);
  expect(jobPage).toContain('href="../../../assets/monitor.css"');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(overview)![1]!;
  const action = await fetch(`${origin}/admin/queues/queues/embedded/actions/pause`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, back: 'queues/embedded' }),
    redirect: 'manual',
  });
  expect(action.status).toBe(303);
  expect(await queue.isPaused()).toBe(true);
  await queue.resume();
  const refused = await fetch(`${origin}/admin/queues/queues/embedded/actions/pause`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf }),
    redirect: 'manual',
  });
  expect(refused.status).toBe(401);
  expect(await queue.isPaused()).toBe(false);
}

describe('the monitor mounted in another server', () => {
  it('works in Express at /admin/queues', async () => {
    const { app, monitor } = expressApp({ backend: db.url, token: TOKEN });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await monitor.close();
      server.close();
    }
  });

  it('works in Fastify at /admin/queues', async () => {
    const { app } = fastifyApp({ backend: db.url, token: TOKEN });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await exercise(address);
    } finally {
      await app.close();
    }
  });

  it('works in a node:http server at /admin/queues', async () => {
    const { server, monitor } = nodeHttpServer({ backend: db.url, token: TOKEN });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await monitor.close();
      server.close();
    }
  });
});
