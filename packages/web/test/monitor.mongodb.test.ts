import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { TriggerRunner } from '@skq/mongodb';
import { missingMongoServer, startMongoServer, type MongoTestServer } from '@skq/testing';
import { startMonitorServer, type MonitorServer } from '@skq/web';

const TOKEN = 'mongo-monitor-token-0123456789';
const missing = missingMongoServer('mongo-java-server');

describe.skipIf(missing !== null)(`the monitor on MongoDB (mongo-java-server) ${missing ?? ''}`, () => {
  let mongo: MongoTestServer;
  let server: MonitorServer;
  let cookie: string;

  beforeAll(async () => {
    mongo = await startMongoServer('mongo-java-server');
    const queue = new SkunkQueue('mq', { backend: mongo.url });
    await queue.job({ name: 'x', routes: ['r'] }, async () => 1).fire();
    await queue.close();
    // What a trigger runner named "billing" stores after handling a change of the orders collection.
    const client = new MongoClient(mongo.url);
    await client.db('skunq').collection<{ _id: string; token: unknown; at: Date }>('skq_trigger_positions').insertOne({ _id: 'billing/orders', token: { _data: '8263' }, at: new Date('2026-11-01T10:00:00Z') });
    await client.close();
    // The reader `skunq web` passes for a mongodb:// URL: the monitor itself knows no backend package.
    server = await startMonitorServer({ backend: mongo.url, port: 0, token: TOKEN, triggerPositions: (url) => TriggerRunner.positions(url) });
    cookie = (await fetch(`${server.url}/?token=${TOKEN}`, { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await mongo?.stop();
  });

  it('finds the queue, and lists trigger runners with their stored positions', async () => {
    const overview = await (await fetch(`${server.url}/`, { headers: { cookie } })).text();
    expect(overview).toContain('href="./queues/mq"');
    expect(overview).toContain('href="./triggers"');
    const triggers = await (await fetch(`${server.url}/triggers`, { headers: { cookie } })).text();
    expect(triggers).toMatch(/<td class="mono">billing<\/td><td class="mono">orders<\/td><td><time datetime="2026-11-01T10:00:00.000Z">/);
  });
});
