import type { Cluster, Redis } from 'ioredis';
import { minuteOf, type CallRecord, type CallRecordQuery, type ThroughputBucket } from '@skq/core/backend';
import type { QueueKeys } from './keys.js';

/** Call records kept per queue (and per name): the oldest beyond this are trimmed. */
const CALL_RECORDS_KEPT = 10_000;

/**
 * Reads and writes of the Redis backend that need no script: throughput minutes and call records.
 * Each takes the client and the queue's keys.
 */
export async function readThroughput(client: Redis | Cluster, keys: QueueKeys, since: number, now: number): Promise<ThroughputBucket[]> {
  const minutes: number[] = [];
  for (let minute = minuteOf(since); minute <= now; minute += 60_000) minutes.push(minute);
  const pipeline = client.pipeline();
  for (const minute of minutes) pipeline.hgetall(keys.throughput(minute));
  const replies = (await pipeline.exec()) ?? [];
  const buckets: ThroughputBucket[] = [];
  replies.forEach(([err, hash], i) => {
    if (err) throw err;
    const byRoute = new Map<string, ThroughputBucket>();
    for (const [field, value] of Object.entries(hash as Record<string, string>)) {
      const bar = field.lastIndexOf('|');
      const route = field.slice(0, bar);
      let bucket = byRoute.get(route);
      if (!bucket) byRoute.set(route, (bucket = { minute: minutes[i]!, route, completed: 0, failed: 0 }));
      if (field.slice(bar + 1) === 'c') bucket.completed += Number(value);
      else bucket.failed += Number(value);
    }
    buckets.push(...[...byRoute.values()].sort((a, b) => a.route.localeCompare(b.route)));
  });
  return buckets;
}

/** Stores a call record in the queue's list and in its name's list, newest first, in one transaction. */
export async function appendCallRecord(client: Redis | Cluster, keys: QueueKeys, record: CallRecord): Promise<void> {
  const json = JSON.stringify(record);
  await client
    .multi()
    .lpush(keys.records(null), json)
    .ltrim(keys.records(null), 0, CALL_RECORDS_KEPT - 1)
    .lpush(keys.records(record.name), json)
    .ltrim(keys.records(record.name), 0, CALL_RECORDS_KEPT - 1)
    .exec();
}

export async function listCallRecords(client: Redis | Cluster, keys: QueueKeys, query: CallRecordQuery): Promise<CallRecord[]> {
  const entries = await client.lrange(keys.records(query.name ?? null), 0, query.limit - 1);
  return entries.map((entry) => JSON.parse(entry) as CallRecord);
}
