import { MongoClient, type Db, type Filter, type MongoClientOptions } from 'mongodb';
import {
  SkqError,
  cancelledError,
  checkJobSizes,
  expiredLeaseError,
  unreadableJobError,
  expiredLeaseOutcome,
  failureOutcome,
  holdsLease,
  jobIdOfDelivery,
  leaseLost,
  redactUrl,
  zeroStateCounts,
  type CallRecord,
  type CallRecordQuery,
  type ClaimRequest,
  type ClaimedDelivery,
  type ClaimResult,
  type EnqueueResult,
  type FailRequest,
  type JobEvent,
  type JobEventListener,
  type JobRecord,
  type JobState,
  type LeaseToken,
  type ListJobsQuery,
  type LogLine,
  type NewJob,
  type ScheduleDefinition,
  type ScheduleFiring,
  type ScheduleRecord,
  type StateCounts,
  type StorageBackend,
  type StorageCapabilities,
  type LogMeta,
  type Logger,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerInfo,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core';
import { ensureIndexes, type Collections } from './collections.js';
import { MongoConnection } from './mongo-connection.js';
import { SequenceClock, headerOfSolo, toClaimed, toJobRecord, toWorker, type DeliveryDoc, type EventDoc, type JobDoc } from './documents.js';
import { JobWriter } from './job-writer.js';
import { EventFeed, chooseWakeupSource, type WakeupSource } from './event-feed.js';
import { mapMongoError } from './mongo-errors.js';
import { resolveMongoOptions, type MongoOptions, type ParsedMongoOptions } from './mongo-options.js';
import { MongoSchedules } from './mongo-schedules.js';
import { MongoOperations } from './mongo-operations.js';

type EventType = JobEvent['type'];

const logged = new Set<string>();
/** How often `complete` tries its compare-and-set while the lease is still held. */
const COMPLETE_TRIES = 3;
/**
 * The most bytes of JSON one result, error, log line or job may take (see `maxValueBytes`). A
 * document stops at 16 MiB of BSON (16,777,216 bytes), and a delivery holds its job's arguments and
 * options next to its result or error and up to 16 KB of progress: two values of this size, the
 * progress and the other fields fit with over 700 KB to spare.
 */
const MAX_VALUE_BYTES = 8_000_000;

/**
 * The MongoDB backend, on the official driver. Each step is a single-document atomic operation
 * (no multi-document transactions, so it runs on a standalone server as on a replica set):
 *
 * - a claim is one `findOneAndUpdate` per delivery, sorted by priority, run time and enqueue order;
 * - `complete`, `fail` and lease extensions are compare-and-sets on the lease holder;
 * - a job with one delivery is one document; a job with several writes a header first, holding
 *   the deliveries it promises, then the deliveries (see {@link JobWriter});
 * - lifecycle events are written after the step, batched per tick, so they cost no round trip.
 *
 * Wake-ups come from a change stream, a tailable cursor on a capped events collection, or polling,
 * whichever is the best the server offers (see `wakeups`).
 *
 * A client that keeps failing server selection is replaced by a new one (see {@link MongoConnection}):
 * after 3 failures in a row spanning at least `connectTimeoutMs`, so calls are served again at most
 * about 3 × `connectTimeoutMs` (30 s by default) after the server answers. A call that failed on the
 * old client without reaching a server runs again on the new one.
 *
 * @example
 * ```ts
 * const backend = await MongoBackend.connect('mongodb://127.0.0.1:27017/jobs?replicaSet=rs0');
 * const queue = new SkunkQueue('demo', { backend });
 * ```
 */
export class MongoBackend implements StorageBackend {
  readonly kind = 'mongodb';
  readonly capabilities: StorageCapabilities;
  private readonly clock = new SequenceClock();
  private readonly schedules: MongoSchedules;
  private readonly writer: JobWriter;
  private readonly operations: MongoOperations;
  private eventBuffer: EventDoc[] = [];
  private eventWrites: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private lastWarning = 0;
  private closed = false;

  private readonly c: Collections;

  private constructor(
    private readonly connection: MongoConnection,
    private readonly feed: EventFeed,
    private readonly logger: Logger | false,
  ) {
    const c = (this.c = connection.c);
    this.capabilities = { crossProcess: true, pushEvents: feed.source !== 'poll', batchClaim: true, durable: true, maxValueBytes: MAX_VALUE_BYTES };
    this.writer = new JobWriter({
      c,
      nextSeq: () => this.clock.next(),
      event: (...args) => this.event(...args),
      record: (events) => this.record(events),
      liveWorkers: (queue, now) => this.liveWorkers(queue, now),
    });
    // A getter: the collection object of a replaced client is closed with it.
    this.schedules = new MongoSchedules(() => connection.c.schedules, (job) => this.writer.insert([job]));
    this.operations = new MongoOperations({
      c,
      nextSeq: () => this.clock.next(),
      event: (...args) => this.event(...args),
      record: (events) => this.record(events),
      warn: (message, meta) => this.warn(message, meta),
    });
  }

  /**
   * The database of this store, of the current client. A client that keeps failing server selection
   * is replaced and closed, and its `Db` with it: read this at each use, or give `CappedQueue` the
   * backend itself, which does.
   */
  get db(): Db {
    return this.connection.db;
  }

  /** Which wake-up mechanism this backend chose. */
  get wakeupSource(): WakeupSource {
    return this.feed.source;
  }

  /**
   * Connects, picks the wake-up mechanism (logged once per store) and creates the indexes.
   *
   * @example
   * ```ts
   * const backend = await MongoBackend.connect({ url: 'mongodb://127.0.0.1:27017', database: 'jobs', wakeups: 'poll' });
   * ```
   */
  static async connect(options: MongoOptions | string): Promise<MongoBackend> {
    const opts: ParsedMongoOptions = resolveMongoOptions(options);
    let client: MongoClient;
    const clientOptions: MongoClientOptions = { serverSelectionTimeoutMS: opts.connectTimeoutMs, connectTimeoutMS: opts.connectTimeoutMs, socketTimeoutMS: opts.socketTimeoutMs };
    try {
      // The driver checks the URL's options here: a bad one is a configuration error, named as such.
      client = new MongoClient(opts.url, clientOptions);
    } catch (err) {
      throw mapMongoError(err, `open ${redactUrl(opts.url)}`);
    }
    try {
      await client.connect();
      const connection = new MongoConnection(client, opts.url, clientOptions, opts.database, opts.collectionPrefix, opts.connectTimeoutMs, opts.logger);
      const { c } = connection;
      const { source, why } = await chooseWakeupSource(connection.db, c.events, opts.wakeups, opts.eventsCappedBytes);
      await ensureIndexes(c);
      const where = `${redactUrl(opts.url)} ${opts.database}.${opts.collectionPrefix}_*`;
      if (opts.logger !== false && !logged.has(`${where} ${source}`)) {
        logged.add(`${where} ${source}`);
        opts.logger.info({ database: opts.database, collectionPrefix: opts.collectionPrefix, wakeups: source }, `mongodb ${where}: wake-ups by ${source}${why ? ` (${why.replace(/^; /, '')})` : ''}`);
      }
      return new MongoBackend(connection, new EventFeed(connection, source, opts.pollIntervalMs, opts.eventRetentionMs), opts.logger);
    } catch (err) {
      await client.close().catch(() => {});
      throw mapMongoError(err, `connect to ${redactUrl(opts.url)}`);
    }
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    // All or nothing: a job over the document limit is refused before any of the batch is written.
    checkJobSizes(jobs, this.capabilities.maxValueBytes);
    return this.run('enqueue', () => this.writer.insert(jobs));
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.run('claim', async () => {
      const now = request.now ?? Date.now();
      // Read before claiming: a claim that begins after a pause is stored takes nothing.
      if (await this.operations.isPaused(request.queue, request.route)) return { deliveries: [], nextRunAt: null, paused: true };
      const filter: Filter<DeliveryDoc> = {
        queue: request.queue,
        route: request.route,
        state: 'queued',
        runAt: { $lte: now },
        targetWorker: { $in: [null, request.workerId] },
      };
      const update = {
        $set: { state: 'running' as const, workerId: request.workerId, leaseUntil: now + request.leaseMs, startedAt: now, cancelRequested: false },
        $inc: { attempts: 1 },
      };
      const sort = { priority: -1, runAt: 1, enq: 1 } as const;
      const claimed: DeliveryDoc[] = [];
      // One atomic findOneAndUpdate per delivery, one after another: racing claimers never share one.
      while (claimed.length < request.limit) {
        const doc = await this.c.deliveries.findOneAndUpdate(filter, update, { sort, returnDocument: 'after' });
        if (!doc) break;
        claimed.push(doc);
      }
      claimed.sort((a, b) => b.priority - a.priority || a.runAt - b.runAt || a.enq - b.enq);
      this.record(claimed.map((d) => this.event(d.queue, 'started', d.jobId, d._id, d.route, request.workerId, now)));
      let nextRunAt: number | null = null;
      // Only a short claim needs the next delayed run time (the worker sleeps until then); a full one saves the query.
      if (claimed.length < request.limit) {
        const next = await this.c.deliveries.findOne(
          { queue: request.queue, route: request.route, state: 'queued', runAt: { $gt: now }, targetWorker: { $in: [null, request.workerId] } },
          { sort: { runAt: 1 }, projection: { runAt: 1 } },
        );
        nextRunAt = next?.runAt ?? null;
      }
      const deliveries: ClaimedDelivery[] = [];
      for (const d of claimed) {
        try {
          deliveries.push(toClaimed(d, now));
        } catch (cause) {
          // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
          const error = unreadableJobError(d.jobId, cause);
          await this.fail(request.queue, { deliveryId: d._id, workerId: request.workerId, attempt: d.attempts }, { error, retryAt: null, cancelled: false });
        }
      }
      return { deliveries, nextRunAt };
    });
  }

  async complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    await this.run('complete', async () => {
      const now = Date.now();
      const { deliveryId: id, workerId } = lease;
      const update = { $set: { state: 'succeeded' as const, finishedAt: now, leaseUntil: null, result: JSON.stringify(result ?? null), error: null } };
      for (let tries = 1; ; tries += 1) {
        const done = await this.c.deliveries.findOneAndUpdate({ _id: id, queue, state: 'running', workerId, attempts: lease.attempt }, update);
        if (done) {
          this.record([this.event(done.queue, 'succeeded', done.jobId, id, done.route, workerId, now)]);
          await this.afterEnd(done, 'succeeded', now);
          return;
        }
        // A server whose findAndModify is not atomic (FerretDB v1) can miss a document that matches
        // while another write to it is under way: if the lease is still held, the compare-and-set is tried again.
        const row = await this.c.deliveries.findOne({ _id: id, queue }, { projection: { state: 1, workerId: 1, attempts: 1 } });
        if (!row || !holdsLease(row, lease) || tries >= COMPLETE_TRIES) throw leaseLost(queue, lease, row);
      }
    });
  }

  async fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return this.run('fail', async () => {
      const now = Date.now();
      const error = JSON.stringify(request.error);
      const { deliveryId: id, workerId } = lease;
      for (;;) {
        const row = await this.c.deliveries.findOne({ _id: id, queue });
        if (!row || !holdsLease(row, lease)) throw await this.leaseLost(queue, lease, row);
        const outcome = failureOutcome(request, row);
        const set: Partial<DeliveryDoc> =
          outcome === 'retrying' ? { state: 'queued', runAt: request.retryAt!, leaseUntil: null, error } : { state: outcome, finishedAt: now, leaseUntil: null, error };
        // Compare-and-set on the lease as read, including a cancel request that may arrive meanwhile.
        const changed = await this.c.deliveries.updateOne(
          { _id: id, state: 'running', workerId, attempts: lease.attempt, cancelRequested: row.cancelRequested },
          { $set: set },
        );
        if (changed.modifiedCount === 1) {
          this.record([this.event(row.queue, outcome, row.jobId, id, row.route, workerId, now)]);
          if (outcome !== 'retrying') await this.afterEnd(row, outcome, now);
          return outcome;
        }
      }
    });
  }

  async extendLease(_queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    if (leases.length === 0) return [];
    return this.run('extendLease', async () => {
      const leaseUntil = Date.now() + leaseMs;
      const held = await Promise.all(
        leases.map((l) => this.c.deliveries.updateOne({ _id: l.deliveryId, workerId: l.workerId, attempts: l.attempt, state: 'running' }, { $set: { leaseUntil } })),
      );
      return leases.filter((_, i) => held[i]!.matchedCount === 1);
    });
  }

  async recoverExpired(queue: string, now: number = Date.now()): Promise<number> {
    return this.run('recoverExpired', async () => {
      await this.writer.finishPendingHeaders(queue, now);
      const expired = await this.c.deliveries.find({ queue, state: 'running', leaseUntil: { $lt: now } }).toArray();
      let taken = 0;
      const events: EventDoc[] = [];
      for (const row of expired) {
        const lease = { _id: row._id, state: 'running' as const, workerId: row.workerId, leaseUntil: row.leaseUntil };
        const type = expiredLeaseOutcome({ cancelRequested: row.cancelRequested, recoveries: row.recoveries });
        const changed =
          type === 'recovered'
            ? await this.c.deliveries.updateOne(lease, { $set: { state: 'queued', runAt: now, leaseUntil: null }, $inc: { recoveries: 1 } })
            : await this.c.deliveries.updateOne(lease, {
                $set: { state: type, finishedAt: now, leaseUntil: null, error: JSON.stringify(expiredLeaseError({ id: row._id, workerId: row.workerId, recoveries: row.recoveries }, type)) },
              });
        if (changed.modifiedCount !== 1) continue; // renewed or taken back by another process meanwhile
        taken += 1;
        events.push(this.event(queue, type, row.jobId, row._id, row.route, row.workerId, now));
        if (type !== 'recovered') await this.afterEnd(row, type, now);
      }
      taken += await this.operations.failOrphaned(queue, now, events);
      this.record(events);
      return taken;
    });
  }

  async cancel(queue: string, jobId: string): Promise<boolean> {
    return this.run('cancel', async () => {
      const now = Date.now();
      const rows = await this.c.deliveries.find({ jobId, queue, state: { $in: ['queued', 'running'] } }).toArray();
      const error = JSON.stringify(cancelledError(jobId));
      const events: EventDoc[] = [];
      for (const row of rows) {
        const ended = await this.c.deliveries.updateOne({ _id: row._id, state: 'queued' }, { $set: { state: 'cancelled', finishedAt: now, error } });
        if (ended.modifiedCount === 1) {
          events.push(this.event(queue, 'cancelled', jobId, row._id, row.route, null, now));
          await this.afterEnd(row, 'cancelled', now);
          continue;
        }
        const running = await this.c.deliveries.findOneAndUpdate({ _id: row._id, state: 'running' }, { $set: { cancelRequested: true } });
        if (running) events.push(this.event(queue, 'cancel-requested', jobId, row._id, row.route, running.workerId, now));
      }
      this.record(events);
      return rows.length > 0;
    });
  }

  async reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return this.run('reschedule', async () => {
      const rows = await this.c.deliveries.find({ jobId, queue, state: 'queued' }, { projection: { route: 1 } }).toArray();
      if (rows.length === 0) return false;
      await this.c.deliveries.updateMany({ _id: { $in: rows.map((r) => r._id) }, state: 'queued' }, { $set: { runAt } });
      this.record(rows.map((r) => this.event(queue, 'rescheduled', jobId, r._id, r.route, null, Date.now())));
      return true;
    });
  }

  async getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return this.run('getJob', async () => {
      const [job, deliveries] = await Promise.all([this.c.jobs.findOne({ _id: jobId, queue }), this.c.deliveries.find({ jobId, queue }).toArray()]);
      const header = job ?? (deliveries[0]?.solo ? headerOfSolo(deliveries[0]) : null);
      return header ? toJobRecord(header, deliveries, Date.now()) : null;
    });
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.run('listJobs', async () => {
      const { queue, after, limit } = query;
      const before = (created: string, id: string): Filter<DeliveryDoc> =>
        after ? { $or: [{ [created]: { $lt: after.createdAt } }, { [created]: after.createdAt, [id]: { $lt: after.id } }] } : {};
      // Jobs are header documents or solo deliveries: page through both in listing order and merge.
      const [multi, solo] = await Promise.all([
        this.c.jobs.find({ queue, ...(before('createdAt', '_id') as Filter<JobDoc>) }).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray(),
        this.c.deliveries.find({ queue, solo: true, ...before('jobCreatedAt', 'jobId') }).sort({ jobCreatedAt: -1, jobId: -1 }).limit(limit).toArray(),
      ]);
      const headers = [...multi, ...solo.map(headerOfSolo)]
        .sort((a, b) => b.createdAt - a.createdAt || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0))
        .slice(0, limit);
      const byJob = new Map<string, DeliveryDoc[]>(solo.map((d) => [d.jobId, [d]]));
      const unread = headers.filter((h) => !byJob.has(h._id)).map((h) => h._id);
      for (const d of unread.length ? await this.c.deliveries.find({ jobId: { $in: unread } }).toArray() : []) {
        byJob.set(d.jobId, [...(byJob.get(d.jobId) ?? []), d]);
      }
      const now = Date.now();
      return headers.map((h) => toJobRecord(h, byJob.get(h._id) ?? [], now));
    });
  }

  async retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return this.run('retryJob', () => this.operations.retry(queue, jobId, request.runAt, request.attempts));
  }

  async removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    return this.run('removeJobs', async () => {
      const removed: string[] = [];
      for (const jobId of jobIds) if (await this.operations.remove(queue, jobId)) removed.push(jobId);
      return removed;
    });
  }

  async setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    await this.run('setProgress', async () => {
      const row = await this.c.deliveries.findOneAndUpdate(
        { _id: lease.deliveryId, queue, state: 'running', workerId: lease.workerId, attempts: lease.attempt },
        { $set: { progress: JSON.stringify(progress ?? null) } },
      );
      if (!row) throw await this.leaseLost(queue, lease);
      this.record([this.event(queue, 'progress', row.jobId, lease.deliveryId, row.route, lease.workerId, Date.now(), progress)]);
    });
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return this.run('setPaused', () => this.operations.setPaused(queue, route, paused));
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return this.run('pausedRoutes', () => this.operations.pausedRoutes(queue));
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.run('throughput', () => this.operations.throughput(queue, since));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.run('appendCallRecord', () => this.operations.appendCallRecord(queue, record));
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.run('listCallRecords', () => this.operations.listCallRecords(queue, query));
  }

  async countByState(queue: string): Promise<StateCounts> {
    return this.run('countByState', async () => {
      const now = Date.now();
      const counts: StateCounts = {};
      const add = (route: string, state: JobState, n: number) => {
        counts[route] ??= zeroStateCounts();
        counts[route]![state] += n;
      };
      const group = (match: Filter<DeliveryDoc>) =>
        this.c.deliveries.aggregate<{ _id: { route: string; state: DeliveryDoc['state'] }; n: number }>([
          { $match: match },
          { $group: { _id: { route: '$route', state: '$state' }, n: { $sum: 1 } } },
        ]).toArray();
      const [all, future] = await Promise.all([group({ queue }), group({ queue, state: 'queued', runAt: { $gt: now } })]);
      for (const row of all) add(row._id.route, row._id.state, row.n);
      for (const row of future) {
        add(row._id.route, 'queued', -row.n);
        add(row._id.route, 'scheduled', row.n);
      }
      return counts;
    });
  }

  async appendLogs(_queue: string, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.run('appendLogs', async () => {
      await this.c.logs.insertMany(
        lines.map((l) => ({ jobId: jobIdOfDelivery(l.deliveryId), deliveryId: l.deliveryId, seq: this.clock.next(), at: l.at, stream: l.stream, line: l.line })),
        { ordered: true },
      );
    });
  }

  async getLogs(_queue: string, jobId: string): Promise<LogLine[]> {
    return this.run('getLogs', async () =>
      (await this.c.logs.find({ jobId }).sort({ seq: 1 }).toArray()).map((l) => ({ deliveryId: l.deliveryId, at: l.at, stream: l.stream, line: l.line })),
    );
  }

  async registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.run('registerWorker', async () => {
      const now = Date.now();
      await this.c.workers.updateOne(
        { _id: info.id },
        {
          $set: { routes: info.routes, lastSeenAt: now, expiresAt: now + ttlMs, state: 'running' },
          $setOnInsert: { queue: info.queue, hostname: info.hostname, pid: info.pid, startedAt: info.startedAt, runningJobIds: [], command: null },
        },
        { upsert: true },
      );
    });
  }

  async heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return this.run('heartbeat', async () => {
      const now = Date.now();
      const doc = await this.c.workers.findOneAndUpdate(
        { _id: workerId, queue, expiresAt: { $gte: now } },
        { $set: { lastSeenAt: now, expiresAt: now + ttlMs, state: status.state, runningJobIds: status.runningJobIds } },
        { returnDocument: 'after' },
      );
      if (!doc) return null;
      const command = doc.command ?? null;
      if (command && command.id === status.obeyedCommandId && command.obeyedAt === null) {
        await this.c.workers.updateOne({ _id: workerId, 'command.id': command.id }, { $set: { 'command.obeyedAt': now } });
        command.obeyedAt = now;
      }
      return toWorker({ ...doc, command });
    });
  }

  async sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return this.run('sendWorkerCommand', async () => {
      const now = Date.now();
      const sent = await this.c.workers.updateOne({ _id: workerId, queue, expiresAt: { $gte: now } }, { $set: { command } });
      if (sent.matchedCount !== 1) return false;
      this.record([this.event(queue, 'worker-command', null, null, null, workerId, now, command.id)]);
      return true;
    });
  }

  async unregisterWorker(_queue: string, workerId: string): Promise<void> {
    await this.run('unregisterWorker', () => this.c.workers.deleteOne({ _id: workerId }));
  }

  async listQueues(): Promise<string[]> {
    return this.run('listQueues', async () => {
      // A one-delivery job is only its delivery document; a job header exists for the others.
      const { deliveries, jobs, workers, schedules } = this.c;
      const names = await Promise.all([deliveries.distinct('queue'), jobs.distinct('queue'), workers.distinct('queue'), schedules.distinct('queue')]);
      return [...new Set(names.flat() as string[])].sort();
    });
  }

  async listWorkers(queue: string): Promise<WorkerInfo[]> {
    return this.run('listWorkers', () => this.liveWorkers(queue, Date.now()));
  }

  async saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'> {
    return this.run('saveSchedule', () => this.schedules.save(queue, definition, Date.now()));
  }

  async listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return this.run('listSchedules', () => this.schedules.list(queue));
  }

  async setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.run('setSchedulePaused', () => this.schedules.setPaused(queue, id, paused, Date.now()));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.run('removeSchedule', () => this.schedules.remove(queue, id));
  }

  async fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.run('fireSchedule', () => this.schedules.fire(queue, id, version, firing));
  }

  async advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.run('advanceSchedule', () => this.schedules.advance(queue, id, version, next, Date.now()));
  }

  async subscribe(queue: string, listener: JobEventListener, types?: readonly EventType[]): Promise<() => Promise<void>> {
    this.assertOpen('subscribe');
    const unsubscribe = this.feed.subscribe(queue, listener, types);
    return async () => unsubscribe();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.operations.flushTallies().catch((err: unknown) => this.warn('mongodb: throughput counts were not recorded', { err }));
    await this.flushEvents();
    this.feed.close();
    await this.connection.close();
  }

  /** At most one warning a minute: a server that is away would otherwise flood the log. */
  private warn(message: string, meta: LogMeta): void {
    if (this.logger === false || Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(meta, message);
  }

  private async liveWorkers(queue: string, now: number): Promise<WorkerInfo[]> {
    return (await this.c.workers.find({ queue, expiresAt: { $gte: now } }).sort({ startedAt: 1, _id: 1 }).toArray()).map(toWorker);
  }

  private async leaseLost(queue: string, lease: LeaseToken, row?: DeliveryDoc | null): Promise<SkqError> {
    const doc = row === undefined ? await this.c.deliveries.findOne({ _id: lease.deliveryId, queue }, { projection: { state: 1, workerId: 1, attempts: 1 } }) : row;
    return leaseLost(queue, lease, doc);
  }

  private event(queue: string, type: EventType, jobId: string | null, delivery: string | null, route: string | null, workerId: string | null, at: number, data?: unknown): EventDoc {
    return { seq: this.clock.next(), type, queue, jobId, deliveryId: delivery, route, workerId, at, ...(data !== undefined && { data }) };
  }

  /** Throughput and retention after a delivery ended; a failure there must not turn the ending into an error. */
  private async afterEnd(row: DeliveryDoc, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): Promise<void> {
    await this.operations.ended(row, outcome, now).catch((err: unknown) => this.warn(`mongodb: retention of job ${row.jobId} failed`, { queue: row.queue, jobId: row.jobId, err }));
  }

  /**
   * Records events without holding up the step that caused them: they are batched per tick and
   * written in order, one insert at a time. Events are best effort (see `subscribe`); callers that
   * need an outcome read the job's state.
   */
  private record(events: EventDoc[]): void {
    // After close nothing is written: close() has flushed what was recorded before it.
    if (events.length === 0 || this.closed) return;
    this.eventBuffer.push(...events);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushEvents());
  }

  private flushEvents(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.eventBuffer;
    this.eventBuffer = [];
    if (batch.length === 0) return this.eventWrites;
    this.eventWrites = this.eventWrites.then(() =>
      this.c.events.insertMany(batch, { ordered: true }).then(
        () => this.feed.poke(),
        (err: unknown) => this.warn(`mongodb: ${batch.length} lifecycle events were not recorded`, { queues: [...new Set(batch.map((e) => e.queue))], err }),
      ),
    );
    return this.eventWrites;
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen(operation);
    for (let again = true; ; again = false) {
      const generation = this.connection.generation;
      try {
        const result = await fn();
        this.connection.succeeded(generation);
        return result;
      } catch (err) {
        // A call the old client never sent runs once more on the client that replaced it.
        if (this.connection.failed(generation, err) && again && !this.closed) continue;
        throw mapMongoError(err, operation);
      }
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new SkqError('BACKEND_UNAVAILABLE', `mongodb ${operation}: the backend is closed`);
  }
}

