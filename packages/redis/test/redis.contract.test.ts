import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { missingServer, runStorageContract, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@skq/testing';
import { Cluster, Redis } from 'ioredis';
import { RedisBackend } from '@skq/redis';

/** Overwrites a job's stored arguments (field 'a' of its MessagePack record) with text that is not JSON. */
const DAMAGE_ARGS = `local t = cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))
t.a = '{"not json'
redis.call('HSET', KEYS[1], ARGV[1], cmsgpack.pack(t))`;

async function damageArgs(client: Redis | Cluster, queue: string, jobId: string): Promise<void> {
  await client.eval(DAMAGE_ARGS, 1, `skq:{${queue}}:job`, jobId);
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
  runStorageContract('redis (single server)', () => RedisBackend.connect(server.url), { damage: (queue, jobId) => damageArgs(new Redis(server.url), queue, jobId) });
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
    damage: (queue, jobId) => damageArgs(new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }))), queue, jobId),
  });
});
