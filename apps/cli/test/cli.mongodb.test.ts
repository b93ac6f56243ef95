import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { SkunkQueue, type JobRecord } from '@skq/core';
import { type CliProcess, eventually, missingMongoServer, mongoServerName, type MongoTestServer, startCli, startMongoServer, stopAll } from '@skq/testing';

const FIXTURE = 'apps/cli/test/fixtures/triggers.ts';
const missing = missingMongoServer('mongo-java-server');

describe.skipIf(missing)(`skunq on MongoDB: workers, triggers, SIGKILL, on ${mongoServerName('mongo-java-server')}${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let server: MongoTestServer;
  let client: MongoClient;
  let db: Db;
  let url: string;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    server = await startMongoServer('mongo-java-server');
    url = server.url.replace('/?', `/skq_cli_${process.pid}?`);
    client = await MongoClient.connect(url);
    db = client.db();
  }, 60_000);
  afterEach(() => stopAll(running));
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('skunq triggers -f runs inline handlers until SIGTERM, and resumes after a restart', async () => {
    const args = ['triggers', '-f', FIXTURE, '-b', url, '--name', 'cli'];
    const first = startCli(args, { SKQ_BACKEND: url });
    running.push(first);
    await first.waitFor('2 triggers watching');
    await db.collection('inbox').insertOne({ greet: 'world' });
    await first.waitFor('hello world');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain('triggers stopped on SIGTERM (1 changes, 1 fired, 0 failed)');
    // Written while no runner watches: the next one, same name, picks it up.
    await db.collection('inbox').insertOne({ greet: 'again' });
    const second = startCli(args, { SKQ_BACKEND: url });
    running.push(second);
    await second.waitFor('hello again');
    expect(second.stdout()).not.toContain('hello world');
  });

  it('skunq work runs the triggers its modules register, and its pool runs the jobs they fire', async () => {
    const worker = startCli(['work', '-q', 'cli-triggers', '-r', 'orders', '-f', FIXTURE, '-b', url], { SKQ_BACKEND: url });
    running.push(worker);
    await worker.waitFor('database-event triggers running');
    await db.collection('orders').insertOne({ _id: 'order-7' as never, kind: 'order' });
    const queue = new SkunkQueue('cli-triggers', { backend: url });
    const [job] = (await eventually(async () => {
      const { jobs } = await queue.list();
      return jobs.length === 1 && jobs[0]!.state === 'succeeded' && jobs;
    }, 'the fired job to succeed', 20_000)) as JobRecord[];
    expect(job!.deliveries[0]?.result).toBe('shipped order-7');
    expect(job!.id).toMatch(/^trigger:work-cli-triggers:shipper:/);
    await queue.close();
  });

  it('SIGKILL: a second worker finishes the killed worker\'s job once its lease expires', async () => {
    // The fixture defines its jobs on queue "cli"; here that queue lives in MongoDB.
    const args = ['work', '-q', 'cli', '-r', 'foo', '-f', 'apps/cli/test/fixtures/jobs.ts', '-b', url, '--lease-ms', '1500', '--no-triggers'];
    const first = startCli(args, { SKQ_BACKEND: url });
    running.push(first);
    await first.waitFor('listening');
    const queue = new SkunkQueue('cli', { backend: url });
    const slow = queue.job({ name: 'slowFirstAttempt', routes: ['foo'] }, async (_ms: number) => ({ attempt: 0, workerId: '' }));
    const handle = await slow.fire(60_000);
    await eventually(async () => (await handle.state()) === 'running', 'the job to start', 10_000);
    const killedWorker = (await handle.info()).deliveries[0]!.workerId;
    first.child.kill('SIGKILL');
    await first.exited;
    const second = startCli(args, { SKQ_BACKEND: url });
    running.push(second);
    const result = (await handle.result({ timeoutMs: 20_000 })) as { attempt: number; workerId: string };
    expect(result.attempt).toBe(2);
    expect(result.workerId).not.toBe(killedWorker);
    expect(result.workerId).toContain(`:${second.child.pid}:`);
    await queue.close();
  });

  it('skunq web on a mongodb:// URL shows the trigger runners, read through @skq/mongodb as the CLI loads it', async () => {
    // What a runner named "web-check" stores after handling a change of the orders collection.
    await db.collection<{ _id: string; token: unknown; at: Date }>('skq_trigger_positions').insertOne({ _id: 'web-check/orders', token: { _data: '8263' }, at: new Date('2026-11-02T09:00:00Z') });
    const token = 'cli-web-mongo-token-0123456789';
    const web = startCli(['web', '--port', '0', '--token', token, '-b', url]);
    running.push(web);
    await web.waitFor('skunq web: monitor of');
    const base = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(web.stdout())![1]!;
    const headers = { authorization: `Bearer ${token}` };
    expect(await (await fetch(`${base}/`, { headers })).text()).toContain('href="./triggers"');
    const page = await fetch(`${base}/triggers`, { headers });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<td class="mono">web-check<\/td><td class="mono">orders<\/td><td><time datetime="2026-11-02T09:00:00.000Z">/);
  });

  it('refuses to start triggers without a MongoDB URL to watch', async () => {
    const proc = startCli(['work', '-q', 'cli-triggers', '-r', 'orders', '-f', FIXTURE, '-b', 'sqlite::memory:'], { SKQ_BACKEND: url });
    running.push(proc);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toContain('--triggers-url');
  });
});
