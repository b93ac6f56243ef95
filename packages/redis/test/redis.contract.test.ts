import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { missingServer, runStorageContract, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@skq/testing';
import { Cluster, Redis } from 'ioredis';
import { RedisBackend } from '@skq/redis';

/** Overwrites a job's stored arguments with text that is not JSON, through a plain client. */
async function damageArgs(url: string, queue: string, jobId: string): Promise<void> {
  const client = new Redis(url);
  await client.hset(`skq:{${queue}}:job:${jobId}`, 'args', '{"not json');
  client.disconnect();
}

const missing = missingServer('redis-server', 'apt-get install redis-server');

describe.skipIf(missing)(`redis ${missing ?? ''}`, () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) rmSync(server.dir, { recursive: true, force: true });
  });
  runStorageContract('redis (single server)', () => RedisBackend.connect(server.url), { damage: (queue, jobId) => damageArgs(server.url, queue, jobId) });
});

describe.skipIf(missing)(`redis cluster ${missing ?? ''}`, () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  runStorageContract('redis (3-master cluster)', () => RedisBackend.connect(cluster.url), {
    damage: async (queue, jobId) => {
      const client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
      await client.hset(`skq:{${queue}}:job:${jobId}`, 'args', '{"not json');
      client.disconnect();
    },
  });
});
