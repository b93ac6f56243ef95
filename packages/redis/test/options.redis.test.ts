import { describe, expect, it } from 'vitest';
import { parseRedisUrl, RedisOptionsSchema } from '@skq/redis';
import { RedisBackend } from '@skq/redis';

describe('redis URL options', () => {
  it('reads retention, cluster nodes and the key prefix from the query', () => {
    expect(parseRedisUrl('redis://127.0.0.1:7000/2?cluster=true&nodes=127.0.0.1:7001,127.0.0.1:7002&keyPrefix=app&removeOnComplete=100&removeOnFail={"ageMs":60000}')).toEqual({
      url: 'redis://127.0.0.1:7000/2',
      cluster: true,
      nodes: ['127.0.0.1:7001', '127.0.0.1:7002'],
      keyPrefix: 'app',
      removeOnComplete: 100,
      removeOnFail: { ageMs: 60000 },
    });
    expect(RedisOptionsSchema.parse(parseRedisUrl('redis://h:1?removeOnComplete=true')).removeOnComplete).toBe(true);
  });

  it('refuses bad options with CONFIG_INVALID naming the field', async () => {
    await expect(RedisBackend.connect('redis://127.0.0.1:1?removeOnComplete=lots')).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'removeOnComplete' } });
    await expect(RedisBackend.connect('redis://127.0.0.1:1?colour=red')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(RedisBackend.connect('not a url')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
