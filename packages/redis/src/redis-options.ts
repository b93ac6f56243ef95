import { z } from 'zod';
import { SkqError } from '@skq/core';
import { NameSchema, RetentionSchema, parseConfig, redactUrl, retentionFromText, timerMs } from '@skq/core/backend';

/** Options of the Redis backend. */
export const RedisOptionsSchema = z
  .object({
    /** `redis://[user:pass@]host:port[/db]` or `rediss://…`; for a cluster, any node. */
    url: z.string().regex(/^rediss?:\/\/./, 'expected a redis:// or rediss:// URL'),
    /** Connect as a Redis Cluster client (`?cluster=true` in the URL). */
    cluster: z.boolean().default(false),
    /** More cluster nodes to start from, `host:port`. */
    nodes: z.array(z.string()).default([]),
    /** Every key starts with `<keyPrefix>:{<queue>}`. */
    keyPrefix: NameSchema.default('skq'),
    /** What to keep of succeeded jobs. Default: all. */
    removeOnComplete: RetentionSchema.default(false),
    /** What to keep of failed and cancelled jobs. Default: all. */
    removeOnFail: RetentionSchema.default(false),
    /** How long to wait for the first connection, in ms. */
    connectTimeoutMs: timerMs().default(10_000),
  })
  .strict();

/** `{ url, cluster?, keyPrefix?, removeOnComplete?, removeOnFail?, … }`, or a `redis://` URL with them as query parameters. */
export type RedisOptions = z.input<typeof RedisOptionsSchema>;
export type ParsedRedisOptions = z.output<typeof RedisOptionsSchema>;

/**
 * Parses a `redis://` URL; options go in the query: `redis://127.0.0.1:6379/0?removeOnComplete=1000&cluster=true`.
 *
 * @example
 * ```ts
 * parseRedisUrl('redis://127.0.0.1:7000?cluster=true&nodes=127.0.0.1:7001,127.0.0.1:7002');
 * ```
 */
export function parseRedisUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid redis URL "${redactUrl(url)}"`, { cause, context: { field: 'backend' } });
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of parsed.searchParams) {
    if (key === 'cluster') options.cluster = value === 'true' || value === '1';
    else if (key === 'nodes') options.nodes = value.split(',').filter(Boolean);
    else if (key === 'removeOnComplete' || key === 'removeOnFail') options[key] = retentionFromText(value);
    else if (key === 'connectTimeoutMs') options[key] = Number(value);
    else options[key] = value;
  }
  parsed.search = '';
  return { ...options, url: parsed.toString() } as RedisOptions;
}

export function resolveRedisOptions(input: RedisOptions | string): ParsedRedisOptions {
  return parseConfig(RedisOptionsSchema, typeof input === 'string' ? parseRedisUrl(input) : input, 'redis options');
}

/** Retention as the scripts take it: [count, ageMs], -1 for no limit. */
export function retentionArgs(retention: z.output<typeof RetentionSchema>): [number, number] {
  if (retention === true) return [0, -1];
  if (retention === false) return [-1, -1];
  if (typeof retention === 'number') return [retention, -1];
  return [retention.count ?? -1, retention.ageMs ?? -1];
}
