import type { ChangeStream, Collection, Db, FindCursor, ObjectId } from 'mongodb';
import { SkqError, type JobEvent } from '@skq/core';
import { type JobEventListener } from '@skq/core/backend';
import { SequenceClock, toEvent, type EventDoc } from './documents.js';
import type { WakeupMode } from './mongo-options.js';
import type { MongoConnection } from './mongo-connection.js';
import { namespaceExists } from './mongo-errors.js';

/** The wake-up mechanism in use, best first. */
export type WakeupSource = 'change-stream' | 'tailable' | 'poll';

interface Subscription {
  queue: string;
  listener: JobEventListener;
  types: ReadonlySet<JobEvent['type']> | null;
  /** Only events recorded after the subscription began. */
  fromSeq: number;
}

type StoredEvent = EventDoc & { _id: ObjectId };

/** How far back (in sequence units) a poll looks for events another process inserted late. */
const LOOKBACK = SequenceClock.at(2_000);
const MIN_POLL_MS = 25;

/**
 * Picks the best wake-up source the server offers, in the order of preference: a change
 * stream on the events collection, else a tailable cursor on it (it must then be capped, so it is
 * created capped here, before anything creates it plain), else polling.
 */
export async function chooseWakeupSource(db: Db, events: Collection<EventDoc>, wanted: WakeupMode, cappedBytes: number): Promise<{ source: WakeupSource; why: string }> {
  let why = '';
  if (wanted === 'auto' || wanted === 'change-stream') {
    try {
      const stream = events.watch([], { maxAwaitTimeMS: 1 });
      await stream.tryNext();
      await stream.close();
      return { source: 'change-stream', why: 'the server has change streams' };
    } catch (err) {
      why = `no change streams (${(err as Error).message})`;
      if (wanted === 'change-stream') throw new SkqError('CONFIG_INVALID', `mongodb wakeups=change-stream: ${why}; change streams need a replica set`, { cause: err, context: { field: 'wakeups' } });
    }
  }
  if (wanted === 'auto' || wanted === 'tailable') {
    const [info] = await db.listCollections({ name: events.collectionName }).toArray();
    try {
      if (!info) {
        await db.createCollection(events.collectionName, { capped: true, size: cappedBytes });
        // A tailable cursor whose query matches nothing dies at once: keep one document in it.
        await events.insertOne({ seq: 0, type: 'enqueued', queue: '', jobId: '', deliveryId: null, route: null, workerId: null, at: 0 });
        return { source: 'tailable', why: `${why}; created a capped events collection` };
      }
      if ((info as { options?: { capped?: boolean } }).options?.capped) return { source: 'tailable', why: `${why}; the events collection is capped` };
      why += '; the events collection exists and is not capped';
    } catch (err) {
      if (namespaceExists(err)) return chooseWakeupSource(db, events, wanted, cappedBytes); // another process created it first
      why += `; no capped collections (${(err as Error).message})`;
    }
    if (wanted === 'tailable') throw new SkqError('CONFIG_INVALID', `mongodb wakeups=tailable: ${why}`, { context: { field: 'wakeups' } });
  }
  return { source: 'poll', why };
}

/** Events kept at most, whatever their age: a busy queue's events stay a few MB. */
const MAX_EVENTS_KEPT = 100_000;

/**
 * Hands the backend's recorded events to subscribers. One source per backend serves every
 * subscription; whenever it restarts (a lost connection), a catch-up read by sequence number
 * fills the gap, and a set of seen event ids keeps anything from arriving twice.
 */
export class EventFeed {
  private readonly subscriptions = new Set<Subscription>();
  private readonly seen = new Map<string, number>();
  private pruneAt = 10_000;
  private watermark = 0;
  private running = false;
  private closed = false;
  private stream: ChangeStream | null = null;
  private cursor: FindCursor | null = null;
  private pollDelay = MIN_POLL_MS;
  private wake: (() => void) | null = null;
  private trimTimer: NodeJS.Timeout | null = null;

  constructor(
    /** The backend's connection: its `c.events` is the current client's, and it hears how reads went. */
    private readonly connection: Pick<MongoConnection, 'c' | 'generation' | 'succeeded' | 'failed'>,
    readonly source: WakeupSource,
    private readonly pollIntervalMs: number,
    private readonly retentionMs: number,
  ) {}

  subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): () => void {
    const subscription: Subscription = { queue, listener, types: types ? new Set(types) : null, fromSeq: SequenceClock.at(Date.now()) - 1 };
    this.watermark = Math.max(this.watermark, subscription.fromSeq - LOOKBACK);
    this.subscriptions.add(subscription);
    if (!this.running) this.start();
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  /** This process wrote events: a polling feed looks at once. */
  poke(): void {
    this.pollDelay = MIN_POLL_MS;
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.subscriptions.clear();
    if (this.trimTimer) clearInterval(this.trimTimer);
    void this.stream?.close().catch(() => {});
    void this.cursor?.close().catch(() => {});
    this.wake?.();
  }

  private start(): void {
    this.running = true;
    if (this.source !== 'tailable') {
      this.trimTimer = setInterval(() => void this.trim().catch(() => {}), 60_000);
      this.trimTimer.unref();
    }
    void this.loop();
  }

  /** Deletes events older than the retention, and all but the newest {@link MAX_EVENTS_KEPT}. */
  private async trim(): Promise<void> {
    await this.events.deleteMany({ at: { $lt: Date.now() - this.retentionMs } });
    const [oldestKept] = await this.events.find({}, { projection: { seq: 1 } }).sort({ seq: -1 }).skip(MAX_EVENTS_KEPT).limit(1).toArray();
    if (oldestKept) await this.events.deleteMany({ seq: { $lte: oldestKept.seq } });
  }

  private get events(): Collection<EventDoc> {
    return this.connection.c.events;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const generation = this.connection.generation;
      try {
        if (this.source === 'change-stream') await this.followChangeStream();
        else if (this.source === 'tailable') await this.followTailable();
        else await this.poll();
        failures = 0;
      } catch (err) {
        if (this.closed) return;
        // A feed that fails on a replaced client reopens on the new one; its failures count like calls'.
        if (this.connection.failed(generation, err)) continue;
        failures += 1;
        await this.sleep(Math.min(2_000, 50 * 2 ** failures));
      }
    }
  }

  private async followChangeStream(): Promise<void> {
    const stream = this.events.watch<StoredEvent>([{ $match: { operationType: 'insert' } }], { maxAwaitTimeMS: 1_000 });
    this.stream = stream;
    try {
      // The first getMore opens the stream; catch up on whatever was recorded before it did.
      await stream.tryNext().then((change) => change && 'fullDocument' in change && this.dispatch(change.fullDocument as StoredEvent));
      await this.poll();
      while (!this.closed) {
        const change = await stream.next();
        if ('fullDocument' in change && change.fullDocument) this.dispatch(change.fullDocument as StoredEvent);
      }
    } finally {
      this.stream = null;
      await stream.close().catch(() => {});
    }
  }

  private async followTailable(): Promise<void> {
    // Starts at the newest stored event (the collection always holds one), so the cursor lives.
    const [newest] = await this.events.find({}).sort({ $natural: -1 }).limit(1).toArray();
    await this.poll();
    const cursor = this.events.find({ seq: { $gte: newest?.seq ?? 0 } }, { tailable: true, awaitData: true, maxAwaitTimeMS: 1_000 });
    this.cursor = cursor;
    try {
      while (!this.closed) {
        const doc = await cursor.next();
        if (doc === null) return; // the cursor died (the capped collection wrapped past it): reopen
        this.dispatch(doc as StoredEvent);
      }
    } finally {
      this.cursor = null;
      await cursor.close().catch(() => {});
    }
  }

  /** One read of events newer than the watermark; the poll source repeats it with backoff. */
  private async poll(): Promise<void> {
    const queues = [...new Set([...this.subscriptions].map((s) => s.queue))];
    if (queues.length > 0) {
      const generation = this.connection.generation;
      const docs = (await this.events
        .find({ queue: { $in: queues }, seq: { $gt: this.watermark - LOOKBACK } })
        .sort({ seq: 1 })
        .limit(1_000)
        .toArray()) as StoredEvent[];
      this.connection.succeeded(generation);
      let fresh = 0;
      for (const doc of docs) if (this.dispatch(doc)) fresh += 1;
      this.pollDelay = fresh > 0 ? MIN_POLL_MS : Math.min(this.pollIntervalMs, this.pollDelay * 2);
    }
    if (this.source === 'poll') await this.sleep(this.pollDelay);
  }

  /** Hands an event to its subscribers once; returns whether it was new. */
  private dispatch(doc: StoredEvent): boolean {
    const id = String(doc._id);
    if (doc.queue === '' || this.seen.has(id)) return false;
    this.seen.set(id, doc.seq);
    if (doc.seq > this.watermark) {
      this.watermark = doc.seq;
      if (this.seen.size > this.pruneAt) {
        for (const [key, seq] of this.seen) if (seq < this.watermark - 2 * LOOKBACK) this.seen.delete(key);
        // Events of the last few seconds stay; at a high rate they are many, so the next pass waits
        // for the set to double rather than scanning it on every event.
        this.pruneAt = Math.max(10_000, this.seen.size * 2);
      }
    }
    const event = toEvent(doc);
    for (const sub of this.subscriptions) {
      if (sub.queue !== doc.queue || doc.seq <= sub.fromSeq || (sub.types && !sub.types.has(doc.type))) continue;
      try {
        sub.listener(event);
      } catch {
        // A listener's failure is its own; the feed goes on.
      }
    }
    return true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
