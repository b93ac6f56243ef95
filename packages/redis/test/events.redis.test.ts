import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newJob, missingServer, startRedis, uniqueQueue, type RedisServer } from '@skq/testing';
import { RedisBackend } from '@skq/redis';

const missing = missingServer('redis-server', 'apt-get install redis-server');

describe.skipIf(missing)(`redis events ${missing ?? ''}`, () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('publishes an event type only while a subscriber of the queue listens to it', async () => {
    const queue = uniqueQueue('heard');
    const backend = await RedisBackend.connect(server.url);
    // A bare pub/sub connection sees every message the scripts publish, and says to nobody that it listens.
    const raw = new Redis(server.port, '127.0.0.1');
    const seen: string[] = [];
    let paused = 0;
    let onPaused: () => void = () => undefined;
    raw.on('pmessage', (_pattern: string, channel: string) => {
      const type = channel.slice(channel.lastIndexOf(':ev:') + 4);
      seen.push(type);
      if (type === 'paused') {
        paused += 1;
        onPaused();
      }
    });
    await raw.psubscribe(`skq:{${queue}}:ev:*`);
    // Messages reach one connection in the order they were published: a `paused` event heard after a step
    // means that step's events, had there been any, came first.
    const mark = async () => {
      const before = paused;
      const heard = new Promise<void>((resolve) => (onPaused = () => paused > before && resolve()));
      await backend.setPaused(queue, '*', true);
      await backend.setPaused(queue, '*', false);
      await heard;
    };
    const offPaused = await backend.subscribe(queue, () => undefined, ['paused']);
    try {
      // Nobody hears `enqueued`: the enqueue publishes nothing.
      await backend.enqueue([newJob(queue, { routes: ['r'] })]);
      await mark();
      expect(seen).toEqual(['paused']);
      // A subscriber of `enqueued`: the next enqueue publishes it, before the mark.
      const heardEnqueued: string[] = [];
      const offEnqueued = await backend.subscribe(queue, (event) => heardEnqueued.push(event.jobId!), ['enqueued']);
      const job = newJob(queue, { routes: ['r'] });
      await backend.enqueue([job]);
      await mark();
      expect(seen).toEqual(['paused', 'enqueued', 'paused']);
      expect(heardEnqueued).toEqual([job.id]);
      await offEnqueued();
      // The registry says until when each type is heard, renewed while subscribed.
      const plain = new Redis(server.port, '127.0.0.1');
      const until = Number(await plain.hget(`skq:{${queue}}:listeners`, 'enqueued'));
      plain.disconnect();
      expect(until).toBeGreaterThan(Date.now());
    } finally {
      await offPaused();
      raw.disconnect();
      await backend.close();
    }
  });
});
