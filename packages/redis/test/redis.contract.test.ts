import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { missingServer, runStorageContract, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@skq/testing';
import { RedisBackend } from '@skq/redis';

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
  runStorageContract('redis (single server)', () => RedisBackend.connect(server.url));
});

describe.skipIf(missing)(`redis cluster ${missing ?? ''}`, () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  runStorageContract('redis (3-master cluster)', () => RedisBackend.connect(cluster.url));
});
