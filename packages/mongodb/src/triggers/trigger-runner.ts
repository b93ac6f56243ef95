import { createHash } from 'node:crypto';
import { MongoClient, type ChangeStream, type ChangeStreamDocument, type Collection, type Db, type Document, type ResumeToken } from 'mongodb';
import { z } from 'zod';
import { SkqError, consoleLogger, type LogMeta } from '@skq/core';
import { NameSchema, parseConfig, timerMs, LoggerSchema } from '@skq/core/backend';
import { mapMongoError } from '../mongo-errors.js';
import { databaseOf, parseMongoUrl } from '../mongo-options.js';
import type { DatabaseChange } from './event-predicates.js';
import { registeredTriggers, triggerArgs, type Trigger } from './trigger-registry.js';

/**
 * Options of a {@link TriggerRunner}.
 *
 * @example
 * ```ts
 * await TriggerRunner.start({ url: 'mongodb://127.0.0.1:27017/app?replicaSet=rs0', name: 'billing' });
 * ```
 */
export const TriggerRunnerOptionsSchema = z
  .object({
    /** The MongoDB whose writes fire the triggers; it must be a replica set (change streams). */
    url: z.string().regex(/^mongodb(\+srv)?:\/\//, 'expected a mongodb:// or mongodb+srv:// URL'),
    /** The database to watch; defaults to the URL's path, else `skunq`. */
    database: NameSchema.optional(),
    /** Names this runner's position: runners with the same name resume from the same place. */
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'letters, digits and _ . : - only').default('default'),
    /** skunq's own collections (and the stored positions) start with `<collectionPrefix>_`; writes to them never fire triggers. */
    collectionPrefix: NameSchema.default('skq'),
    connectTimeoutMs: timerMs().default(10_000),
    /** Where the runner reports handler failures and restarts (as warnings); `false` for silence. Default: the console. */
    logger: z.union([z.literal(false), LoggerSchema]).default(consoleLogger),
  })
  .strict();

/** `{ url, database?, name?, … }` or a `mongodb://` URL. */
export type TriggerRunnerOptions = z.input<typeof TriggerRunnerOptionsSchema>;

/** A runner's stored position in one change stream. */
export interface TriggerPosition {
  /** The runner's name (`--name`). */
  runner: string;
  /** The collection it follows, `*` for the whole database. */
  collection: string;
  /** When the position was stored, epoch ms. */
  at: number;
}

/** Counts since the runner started. */
export interface TriggerStats {
  /** Changes read from the streams. */
  changes: number;
  /** Handler runs and job fires that succeeded. */
  fired: number;
  /** Handler runs and job fires that failed (each is logged; the runner goes on). */
  failed: number;
}

/** Change-stream errors after which resuming cannot work: history lost, or the stream is unusable. */
const FATAL_CODES = new Set([136, 280, 286, 40573, 40602, 238]);

/**
 * Runs database-event triggers: one change stream per watched collection (or one for the whole
 * database when a trigger names no collection). Each change is handled in order: every matching
 * trigger runs its handler or fires its job, then the stream's resume token is stored in
 * `<prefix>_trigger_positions`, so a restarted runner picks up after the last handled change and
 * misses nothing. A change whose handling was cut short by a crash is handled again (at least
 * once); fired jobs get an id derived from the change, so they are not duplicated.
 *
 * @example
 * ```ts
 * onEvent(insert({ _id: 1 }), () => console.log('hello world!'));
 * const runner = await TriggerRunner.start('mongodb://127.0.0.1:27017/app?replicaSet=rs0');
 * // …
 * await runner.stop();
 * ```
 */
export class TriggerRunner {
  private readonly counts: TriggerStats = { changes: 0, fired: 0, failed: 0 };
  private readonly streams = new Set<ChangeStream>();
  private stopping = false;
  /** Settles when the runner stops; rejects if a stream failed for good. */
  readonly done: Promise<void>;
  private settle!: (err?: unknown) => void;

  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly positions: Collection<{ _id: string; token: ResumeToken; at: Date }>,
    private readonly triggers: Trigger[],
    private readonly options: z.output<typeof TriggerRunnerOptionsSchema> & { database: string },
  ) {
    this.done = new Promise((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.done.catch(() => {});
  }

  /**
   * Connects, checks that the server has change streams (else fails with `UNSUPPORTED`), and starts
   * following every stream from its stored position (or from now, the first time).
   *
   * @example
   * ```ts
   * const runner = await TriggerRunner.start({ url: process.env.MONGO_URL!, name: 'billing' }, [paidTrigger]);
   * ```
   */
  static async start(options: TriggerRunnerOptions | string, triggers: Trigger[] = registeredTriggers()): Promise<TriggerRunner> {
    const input = typeof options === 'string' ? { url: options } : options;
    // The URL may be the backend's: keep the skq* parameters a runner has, drop the backend's own (wakeups…).
    const { url, collectionPrefix, connectTimeoutMs } = parseMongoUrl(input.url ?? '');
    const fromUrl = Object.fromEntries(Object.entries({ collectionPrefix, connectTimeoutMs }).filter(([, v]) => v !== undefined));
    const parsed = parseConfig(TriggerRunnerOptionsSchema, { ...fromUrl, ...input, url }, 'trigger runner options');
    const database = parsed.database ?? databaseOf(parsed.url);
    if (triggers.length === 0) throw new SkqError('CONFIG_INVALID', 'the trigger runner has no triggers: register some with onEvent()', { context: { field: 'triggers' } });
    const client = new MongoClient(parsed.url, { serverSelectionTimeoutMS: parsed.connectTimeoutMs, connectTimeoutMS: parsed.connectTimeoutMs });
    try {
      await client.connect();
    } catch (err) {
      await client.close().catch(() => {});
      throw mapMongoError(err, 'connect for triggers');
    }
    const db = client.db(database);
    const runner = new TriggerRunner(client, db, db.collection(`${parsed.collectionPrefix}_trigger_positions`), triggers, { ...parsed, database });
    try {
      await runner.open();
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    return runner;
  }

  /**
   * Where every runner of a database has got to: one stored position per runner name and watched
   * collection (`*` for a runner that watches the whole database), with when it was stored.
   *
   * @example
   * ```ts
   * for (const p of await TriggerRunner.positions(process.env.MONGO_URL!)) console.log(p.runner, p.collection, new Date(p.at));
   * ```
   */
  static async positions(options: Pick<TriggerRunnerOptions, 'url' | 'database' | 'collectionPrefix'> | string): Promise<TriggerPosition[]> {
    const input = typeof options === 'string' ? { url: options } : options;
    const { url, collectionPrefix, connectTimeoutMs } = parseMongoUrl(input.url ?? '');
    const prefix = input.collectionPrefix ?? collectionPrefix ?? 'skq';
    const client = new MongoClient(url, { serverSelectionTimeoutMS: connectTimeoutMs ?? 10_000 });
    try {
      const db = client.db(input.database ?? databaseOf(url));
      const docs = await db.collection<{ _id: string; at: Date }>(`${prefix}_trigger_positions`).find({}, { projection: { token: 0 } }).sort({ _id: 1 }).toArray();
      return docs.map((d) => {
        const slash = d._id.lastIndexOf('/');
        return { runner: d._id.slice(0, slash), collection: d._id.slice(slash + 1), at: d.at.getTime() };
      });
    } catch (err) {
      throw mapMongoError(err, 'read trigger positions');
    } finally {
      await client.close().catch(() => {});
    }
  }

  /** Counts of changes read and handlers run. */
  stats(): TriggerStats {
    return { ...this.counts };
  }

  /** Stops following the streams after the change in hand, and disconnects. */
  async stop(): Promise<void> {
    if (!this.stopping) await this.shutdown();
    return this.done;
  }

  /** Closes every stream and the connection, then settles `done` (rejected with `failure` if given). */
  private async shutdown(failure?: SkqError): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.streams].map((s) => s.close().catch(() => {})));
    await this.client.close().catch(() => {});
    this.settle(failure);
  }

  /** Opens every stream before returning, so that a server without change streams fails `start`. */
  private async open(): Promise<void> {
    const scopes = new Set(this.triggers.flatMap((t) => t.predicate.collections));
    const collections: (string | null)[] = scopes.has(null) ? [null] : [...scopes];
    if (this.triggers.some((t) => t.predicate.needsDeletedDocument)) await this.keepPreImages(collections);
    const opened = await Promise.all(collections.map(async (collection) => ({ collection, ...(await this.openStream(collection)) })));
    for (const { collection, stream, first } of opened) void this.follow(collection, stream, first);
  }

  private async openStream(collection: string | null): Promise<{ stream: ChangeStream; first: ChangeStreamDocument | null }> {
    const key = this.positionKey(collection);
    const stored = await this.positions.findOne({ _id: key });
    const options = {
      fullDocument: 'updateLookup' as const,
      maxAwaitTimeMS: 1_000,
      ...(stored ? { startAfter: stored.token } : {}),
      ...(this.triggers.some((t) => t.predicate.needsDeletedDocument) ? { fullDocumentBeforeChange: 'whenAvailable' as const } : {}),
    };
    const target = collection === null ? this.db : this.db.collection(collection);
    const stream = target.watch([], options);
    try {
      // The first getMore opens the stream: a server without change streams fails here.
      const first = await stream.tryNext();
      this.streams.add(stream);
      return { stream, first };
    } catch (err) {
      await stream.close().catch(() => {});
      const message = (err as Error).message;
      if (FATAL_CODES.has((err as { code?: number }).code ?? 0) || /changeStream|replica set|not implemented|not supported/i.test(message)) {
        throw new SkqError(
          'UNSUPPORTED',
          `database-event triggers need change streams, and ${this.options.database}${collection ? `.${collection}` : ''} has none: MongoDB must run as a replica set (a single node is enough: mongod --replSet rs0, then rs.initiate()). The server said: ${message}`,
          { cause: err },
        );
      }
      throw mapMongoError(err, 'open a change stream for triggers');
    }
  }

  private async follow(collection: string | null, stream: ChangeStream, first: ChangeStreamDocument | null): Promise<void> {
    let failures = 0;
    let current = stream;
    let pending = first;
    while (!this.stopping) {
      try {
        if (pending) await this.handle(collection, pending);
        pending = null;
        for (;;) {
          const change = await current.next();
          await this.handle(collection, change);
          failures = 0;
        }
      } catch (err) {
        this.streams.delete(current);
        await current.close().catch(() => {});
        if (this.stopping) return;
        const code = (err as { code?: number }).code ?? 0;
        if (FATAL_CODES.has(code) || failures > 20) {
          this.warn(`trigger runner ${this.options.name}: the change stream${collection ? ` on ${collection}` : ''} failed for good`, { collection, err });
          await this.shutdown(mapMongoError(err, 'follow the change stream'));
          return;
        }
        failures += 1;
        this.warn(`trigger runner ${this.options.name}: the change stream${collection ? ` on ${collection}` : ''} broke; resuming from the stored position`, { collection, failures, err });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
        try {
          ({ stream: current, first: pending } = await this.openStream(collection));
        } catch {
          // The server is still away: the next turn tries again.
        }
      }
    }
  }

  private async handle(scope: string | null, raw: ChangeStreamDocument): Promise<void> {
    const change = normalize(raw, scope);
    if (change && !change.collection.startsWith(`${this.options.collectionPrefix}_`)) {
      this.counts.changes += 1;
      const eventId = createHash('sha256').update(JSON.stringify(raw._id)).digest('hex').slice(0, 24);
      for (const trigger of this.triggers) {
        if (!trigger.predicate.matches(change)) continue;
        try {
          const args = triggerArgs(trigger, change);
          if (trigger.action.kind === 'inline') {
            await trigger.action.handler(...args);
          } else {
            const invocation = trigger.action.job.with(...args);
            await (trigger.action.routes ? invocation.on(...trigger.action.routes) : invocation).fire({ jobId: `trigger:${this.options.name}:${trigger.name}:${eventId}` });
          }
          this.counts.fired += 1;
        } catch (err) {
          this.counts.failed += 1;
          this.warn(`trigger ${trigger.name} failed on a ${change.kind} in ${change.collection}`, { trigger: trigger.name, collection: change.collection, change: change.kind, err });
        }
      }
    }
    // Stored after the handlers ran: a crash before this line hands the change over again.
    await this.positions.updateOne({ _id: this.positionKey(scope) }, { $set: { token: raw._id, at: new Date() } }, { upsert: true });
  }

  /** MongoDB 6+ keeps deleted documents for change streams only where a collection asks for it. */
  private async keepPreImages(collections: (string | null)[]): Promise<void> {
    for (const collection of collections) {
      if (collection === null) continue;
      try {
        await this.db.createCollection(collection).catch(() => {});
        await this.db.command({ collMod: collection, changeStreamPreAndPostImages: { enabled: true } });
      } catch (err) {
        this.warn(`trigger runner ${this.options.name}: ${collection} keeps no deleted documents; delete filters on fields other than _id will not match there`, { collection, err });
      }
    }
  }

  private positionKey(collection: string | null): string {
    return `${this.options.name}/${collection ?? '*'}`;
  }

  private warn(message: string, meta: LogMeta): void {
    if (this.options.logger !== false) this.options.logger.warn({ runner: this.options.name, ...meta }, message);
  }
}

/** A change stream event as a trigger sees it; null for events that are not document writes. */
function normalize(raw: ChangeStreamDocument, scope: string | null): DatabaseChange | null {
  const kind = raw.operationType === 'insert' ? 'insert' : raw.operationType === 'update' || raw.operationType === 'replace' ? 'update' : raw.operationType === 'delete' ? 'delete' : null;
  // mongo-java-server leaves out `ns`; a collection's own stream knows where it is anyway.
  const ns = 'ns' in raw ? (raw.ns as { coll?: string } | undefined) : undefined;
  const collection = ns?.coll ?? scope;
  if (!kind || !collection) return null;
  const full = 'fullDocument' in raw ? (raw.fullDocument as Document | null | undefined) : undefined;
  const before = 'fullDocumentBeforeChange' in raw ? (raw.fullDocumentBeforeChange as Document | null | undefined) : undefined;
  const rawKey = ('documentKey' in raw ? raw.documentKey : undefined) as Document | undefined;
  // Some servers put something else than { _id } in documentKey: prefer the document's own _id.
  const source = full ?? before ?? null;
  const documentKey = source && '_id' in source ? { _id: source._id } : rawKey && '_id' in rawKey ? { _id: rawKey._id } : {};
  const document = kind === 'delete' ? (before ?? documentKey) : (full ?? null);
  return { kind, collection, documentKey, document };
}
