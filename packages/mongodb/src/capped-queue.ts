import type { Collection, Db, ObjectId } from 'mongodb';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { parseConfig, timerMs } from '@skq/core/backend';
import { mapMongoError, namespaceExists } from './mongo-errors.js';
import type { MongoBackend } from './mongo-backend.js';

/** A job of a {@link CappedQueue}: pymjq's document shape, so Python consumers can share the collection. */
export interface CappedJob<Data = unknown> {
  _id: ObjectId;
  ts: { created: Date; started: Date; done: Date };
  status: 'waiting' | 'working' | 'done';
  data: Data;
  /**
   * Keeps the document's size fixed as `status` shortens to `done`: MongoDB refuses updates that
   * change the size of a capped collection's document. Python consumers ignore it.
   */
  pad?: string;
}

/**
 * Options of a {@link CappedQueue}.
 *
 * @example
 * ```ts
 * new CappedQueue(db, CappedQueueOptionsSchema.parse({ name: 'jobqueue', sizeBytes: 1 << 20 }));
 * ```
 */
export const CappedQueueOptionsSchema = z
  .object({
    /** The capped collection (pymjq's default is `jobqueue`). */
    name: z.string().min(1).max(255).regex(/^[^$\0]+$/, 'not a collection name').default('jobqueue'),
    /** Its size when it is created; the oldest jobs make way for new ones beyond it. */
    sizeBytes: z.number().int().min(4096).default(1024 * 1024),
    /** How long `for await` waits on the cursor before checking that the queue is still wanted. */
    awaitMs: timerMs().default(1_000),
  })
  .strict();

/** `{ name?, sizeBytes?, awaitMs? }`. */
export type CappedQueueOptions = z.input<typeof CappedQueueOptionsSchema>;

/**
 * A simple job queue on a capped collection and a tailable cursor, compatible with pymjq:
 * `pub(data)` adds a `waiting` job, `next()` takes the oldest waiting one, and `for await` waits
 * for new jobs as they arrive, marking each `working` while the loop body runs and `done` when
 * the loop asks for the next. Several consumers may share a queue: taking a job is a
 * compare-and-set on its status, so each job goes to one of them.
 *
 * A job whose loop body throws or breaks stays `working` (pymjq's behaviour); nothing retries it.
 * Needs a server with capped collections: a MongoDB server, or FerretDB 1.18+.
 *
 * Give it a `Db`, or a holder of one read at each call: a {@link MongoBackend}, whose client is
 * replaced (and the old one closed) when it keeps failing server selection, so the queue follows.
 *
 * @example
 * ```ts
 * const jobs = new CappedQueue(client.db('job_queue'), { name: 'jobqueue', sizeBytes: 1 << 20 });
 * await jobs.pub({ message: 'hello world!' });
 * for await (const job of jobs) console.log(job.data.message);
 * ```
 */
export class CappedQueue<Data = unknown> implements AsyncIterable<CappedJob<Data>> {
  private readonly options: z.output<typeof CappedQueueOptionsSchema>;
  private ready: Promise<void> | null = null;

  constructor(
    private readonly source: Db | { readonly db: Db },
    options: CappedQueueOptions = {},
  ) {
    const isDb = (value: unknown): value is Db => typeof (value as Db | undefined)?.collection === 'function';
    if (!isDb(source) && !isDb((source as { db?: unknown } | undefined)?.db)) {
      throw new SkqError('CONFIG_INVALID', 'CappedQueue needs a Db from the mongodb driver (client.db(name)) or a MongoBackend', { context: { field: 'db' } });
    }
    this.options = parseConfig(CappedQueueOptionsSchema, options, 'CappedQueue options', 'options');
  }

  /** The database now: a backend's changes when it replaces its client. */
  private get db(): Db {
    return 'collection' in this.source && typeof this.source.collection === 'function' ? this.source : (this.source as { readonly db: Db }).db;
  }

  private get collection(): Collection<CappedJob<Data>> {
    return this.db.collection<CappedJob<Data>>(this.options.name);
  }

  /** Whether the collection exists and is capped (creating it first if it does not exist). */
  async valid(): Promise<boolean> {
    try {
      await this.ensure();
      return true;
    } catch {
      return false;
    }
  }

  /** Adds a job; resolves to true once it is stored. */
  async pub(data: Data): Promise<true> {
    await this.ensure();
    const now = new Date();
    // All three timestamps are set now and the pad holds room for "done": the size never changes.
    const job = { ts: { created: now, started: now, done: now }, status: 'waiting', data, pad: '' } as Omit<CappedJob<Data>, '_id'>;
    await this.guard('pub', () => this.collection.insertOne(job as CappedJob<Data>));
    return true;
  }

  /** Takes the oldest waiting job, marked `working`, or null if none waits. Mark it with {@link done}. */
  async next(): Promise<CappedJob<Data> | null> {
    await this.ensure();
    for (;;) {
      const oldest = await this.guard('next', () => this.collection.find({ status: 'waiting' } as never).sort({ $natural: 1 }).limit(1).toArray());
      const candidate = oldest[0];
      if (!candidate) return null;
      const taken = await this.take(candidate);
      if (taken) return taken;
    }
  }

  /** Marks a job `done`. */
  async done(job: Pick<CappedJob<Data>, '_id'>): Promise<void> {
    await this.guard('done', () =>
      this.collection.updateOne({ _id: job._id, status: 'working' } as never, { $set: { status: 'done', 'ts.done': new Date(), pad: '   ' } } as never),
    );
  }

  /** Waits for jobs forever (until the loop breaks), each marked `working`, then `done` when the loop moves on. */
  async *[Symbol.asyncIterator](): AsyncIterator<CappedJob<Data>> {
    await this.ensure();
    for (;;) {
      // Jobs that waited before the cursor opened, oldest first.
      for (let job = await this.next(); job; job = await this.next()) {
        yield job;
        await this.done(job);
      }
      const cursor = this.collection.find({ status: 'waiting' } as never, { tailable: true, awaitData: true, maxAwaitTimeMS: this.options.awaitMs });
      try {
        for (;;) {
          const candidate = await this.guard('wait', () => cursor.next());
          if (!candidate) break; // the cursor died (nothing matched, or the collection wrapped): reopen
          const job = await this.take(candidate);
          if (!job) continue;
          yield job;
          await this.done(job);
        }
      } finally {
        await cursor.close().catch(() => {});
      }
      // A dead cursor comes back at once when nothing waits: do not spin.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async take(candidate: CappedJob<Data>): Promise<CappedJob<Data> | null> {
    const started = new Date();
    const result = await this.guard('take', () =>
      this.collection.updateOne({ _id: candidate._id, status: 'waiting' } as never, { $set: { status: 'working', 'ts.started': started } } as never),
    );
    if (result.modifiedCount !== 1) return null;
    return { ...candidate, status: 'working', ts: { ...candidate.ts, started } };
  }

  private ensure(): Promise<void> {
    this.ready ??= (async () => {
      const [info] = await this.db.listCollections({ name: this.options.name }).toArray();
      if (!info) {
        try {
          await this.db.createCollection(this.options.name, { capped: true, size: this.options.sizeBytes });
        } catch (err) {
          if (!namespaceExists(err)) {
            throw new SkqError('UNSUPPORTED', `CappedQueue ${this.options.name}: this server cannot create capped collections (${(err as Error).message})`, { cause: err });
          }
        }
        return;
      }
      if (!(info as { options?: { capped?: boolean } }).options?.capped) {
        throw new SkqError('INVALID_STATE', `CappedQueue ${this.options.name}: the collection exists and is not capped`, { context: { field: 'name' } });
      }
    })();
    this.ready.catch(() => (this.ready = null));
    return this.ready;
  }

  private async guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapMongoError(err, `CappedQueue ${this.options.name} ${operation}`);
    }
  }
}
