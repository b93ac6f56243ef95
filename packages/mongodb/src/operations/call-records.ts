import type { CallRecord, CallRecordQuery } from '@skq/core/backend';
import type { MongoStore } from './store.js';

/**
 * Stores a call record of `asEvent`. Writes: one `userdef` document, `_id` the record's id and
 * numbered by the sequence clock for listing. A record whose id is stored already fails with a
 * duplicate key.
 */
export async function appendCallRecord(store: MongoStore, queue: string, record: CallRecord): Promise<void> {
  await store.c.userdef.insertOne({ _id: record.id, queue, seq: store.nextSeq(), record });
}

/** Call records. Reads: the queue's `userdef` documents, of one name if asked. Returns the newest `limit`, newest first. */
export async function listCallRecords(store: MongoStore, queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
  const filter = query.name ? { queue, 'record.name': query.name } : { queue };
  return (await store.c.userdef.find(filter).sort({ seq: -1 }).limit(query.limit).toArray()).map((d) => d.record);
}
