// Enqueue. A job with one delivery (the common case: a direct job on one route) is one document,
// its delivery, which carries the job's header fields (`solo`): one insert, atomic. A job with
// several deliveries gets a header first, holding the deliveries it promises, then the deliveries
// (deterministic ids, so writing them twice is harmless). That header is the commit record: a
// resent enqueue, or the sweep in `recoverExpired`, finishes one whose writer died.
import { SkqError, type WorkerInfo } from '@skq/core';
import { deliveryId, newDelivery, planDeliveries, type EnqueueResult, type NewJob } from '@skq/core/backend';
import type { DeliveryDoc, EventDoc, JobDoc, PendingDelivery } from '../documents.js';
import { isDuplicateKey } from '../mongo-errors.js';
import type { MongoStore } from './store.js';
import { markGroupedRoutes } from './group-turns.js';
import { liveWorkers } from './workers.js';

/** A job header older than this whose deliveries are not all stored is finished by the sweep. */
const PENDING_REPAIR_MS = 5_000;

/**
 * Enqueue. Reads: the dedupe lock of each job with a dedupe key and its holder's state (see
 * {@link lockDedupe}); the live workers of a broadcast; for ids stored already, what is stored.
 * Writes: the dedupe locks taken; the mark of each grouped job's routes (see `markGroupedRoutes`);
 * the solo deliveries in one unordered insert, then the headers in
 * one, then their deliveries; an `enqueued` event per new delivery (`cancelled` for a job with
 * none). Returns one result per job, in order: deduped, or how many deliveries it has.
 *
 * Idempotent per job id: a resent id is answered as stored, finishing its deliveries if its first
 * writer died midway. An id that another queue holds is refused with ID_CONFLICT, and what this
 * call inserted is taken out again, so it stores none of the batch.
 */
export async function enqueueJobs(store: MongoStore, jobs: NewJob[]): Promise<EnqueueResult[]> {
  const { c } = store;
  const now = Date.now();
  const results: EnqueueResult[] = new Array(jobs.length);
  const headers: JobDoc[] = [];
  const solos: DeliveryDoc[] = [];
  let workers: WorkerInfo[] | null = null;
  for (const [i, job] of jobs.entries()) {
    if (job.dedupeKey) {
      const holder = await lockDedupe(store, job);
      if (holder !== job.id) {
        results[i] = { id: holder, deduped: true, deliveries: 0 };
        continue;
      }
    }
    if (job.type === 'broadcast') workers ??= await liveWorkers(store, job.queue, now);
    const targets = planDeliveries(job.routes, job.type, workers ?? []);
    const header = headerOf(store, job, targets, now);
    if (targets.length === 1) solos.push({ ...deliveryOf(header, targets[0]!, 0, job.options.attempts), solo: true, routes: header.routes, type: header.type, dedupeKey: header.dedupeKey });
    else headers.push(header);
    results[i] = { id: job.id, deduped: false, deliveries: targets.length };
  }
  // Before any grouped job is stored: claims look for grouped jobs only on the routes marked.
  if (store.groups) await markGroupedRoutes(store, jobs);
  const events: EventDoc[] = [];
  // What this call inserted: an enqueue refused for an id another queue holds takes them out again, so it stores none of the batch.
  const inserted = { solos: new Set<string>(), headers: new Set<string>() };
  let stored: JobDoc[] = [];
  try {
    if (solos.length) {
      const resent = await insertIgnoringDuplicates(c.deliveries, solos);
      for (const d of solos) if (!resent.has(d._id)) inserted.solos.add(d._id);
      if (resent.size) refuseOtherQueues(await c.deliveries.find({ _id: { $in: [...resent] } }, { projection: { queue: 1, jobId: 1 } }).toArray(), jobs);
    }
    if (headers.length) {
      const resent = await insertIgnoringDuplicates(c.jobs, headers);
      for (const h of headers) if (!resent.has(h._id)) inserted.headers.add(h._id);
      stored = resent.size ? await c.jobs.find({ _id: { $in: [...resent] } }).toArray() : [];
      refuseOtherQueues(stored.map((h) => ({ queue: h.queue, jobId: h._id })), jobs);
    }
  } catch (err) {
    if (err instanceof SkqError && err.code === 'ID_CONFLICT') await undo(store, inserted);
    throw err;
  }
  for (const d of solos) if (inserted.solos.has(d._id)) events.push(store.event(d.queue, 'enqueued', d.jobId, d._id, d.route, d.targetWorker, now));
  if (headers.length) {
    // A resent id is answered as stored, finishing its deliveries if its first writer died midway.
    const fresh = headers.filter((h) => inserted.headers.has(h._id));
    events.push(...(await storeDeliveries(store, [...fresh, ...stored.filter((h) => h.pending)], now)));
    for (const header of stored) {
      const i = jobs.findIndex((j) => j.id === header._id);
      results[i] = { id: header._id, deduped: false, deliveries: await c.deliveries.countDocuments({ jobId: header._id }) };
    }
  }
  store.record(events);
  return results;
}

/**
 * Finishes the enqueues whose writer stopped between a header and its deliveries; part of the
 * recovery sweep. Reads: up to 1,000 of the queue's headers still promising deliveries after
 * {@link PENDING_REPAIR_MS}, and which of those deliveries are stored. Writes: the missing
 * deliveries and their events; then clears the promises of all those headers. The promise is
 * cleared here, not by the writer, to save the writer a round trip.
 */
export async function finishPendingHeaders(store: MongoStore, queue: string, now: number): Promise<void> {
  const { c } = store;
  const stale = await c.jobs.find({ queue, pendingSince: { $lt: now - PENDING_REPAIR_MS } }).limit(1_000).toArray();
  if (stale.length === 0) return;
  const ids = stale.map((h) => h._id);
  const stored = await c.deliveries.find({ jobId: { $in: ids } }, { projection: { _id: 1 } }).toArray();
  const have = new Set(stored.map((d) => d._id));
  const unfinished = stale.filter((h) => (h.pending ?? []).some((_, index) => !have.has(deliveryId(h._id, index))));
  if (unfinished.length) store.record(await storeDeliveries(store, unfinished, now, have));
  await c.jobs.updateMany({ _id: { $in: ids } }, { $unset: { pending: '', pendingSince: '' } });
}

/** Takes out what a refused enqueue inserted; nothing announced them, and a delivery already claimed is left to run. */
async function undo(store: MongoStore, inserted: { solos: Set<string>; headers: Set<string> }): Promise<void> {
  if (inserted.solos.size) await store.c.deliveries.deleteMany({ _id: { $in: [...inserted.solos] }, state: 'queued' });
  if (inserted.headers.size) await store.c.jobs.deleteMany({ _id: { $in: [...inserted.headers] } });
}

function headerOf(store: MongoStore, job: NewJob, targets: PendingDelivery[], now: number): JobDoc {
  return {
    _id: job.id,
    queue: job.queue,
    name: job.name,
    args: JSON.stringify(job.args),
    routes: job.routes,
    type: job.type,
    priority: job.priority,
    createdAt: job.createdAt,
    runAt: job.runAt,
    enq: store.nextSeq(),
    options: JSON.stringify(job.options),
    dedupeKey: job.dedupeKey ?? null,
    ...(job.group != null && { grp: job.group }),
    emptyState: targets.length === 0 ? 'cancelled' : null,
    pending: targets,
    pendingSince: now,
  };
}

/** Writes the deliveries a header promises (but those in `skip`); returns their events. */
async function storeDeliveries(store: MongoStore, headers: JobDoc[], now: number, skip: ReadonlySet<string> = new Set()): Promise<EventDoc[]> {
  const docs: DeliveryDoc[] = [];
  const events: EventDoc[] = [];
  for (const h of headers) {
    const pending = h.pending ?? [];
    const maxAttempts = (JSON.parse(h.options) as NewJob['options']).attempts;
    pending.forEach((target, index) => {
      const doc = deliveryOf(h, target, index, maxAttempts);
      if (skip.has(doc._id)) return;
      docs.push(doc);
      events.push(store.event(h.queue, 'enqueued', h._id, doc._id, target.route, target.targetWorker, now));
    });
    if (pending.length === 0) events.push(store.event(h.queue, 'cancelled', h._id, null, null, null, now));
  }
  if (docs.length) await insertIgnoringDuplicates(store.c.deliveries, docs);
  return events;
}

/**
 * Takes the queue's dedupe key for `job`, or returns the pending job that holds it. A key whose
 * job has ended (or was never stored) is taken over with a compare-and-set on its holder.
 */
async function lockDedupe(store: MongoStore, job: NewJob): Promise<string> {
  const { dedupe, jobs, deliveries } = store.c;
  const _id = `${job.queue}\u0000${job.dedupeKey}`;
  for (;;) {
    const current = await dedupe.findOne({ _id });
    if (!current) {
      try {
        await dedupe.insertOne({ _id, jobId: job.id });
        return job.id;
      } catch (err) {
        if (isDuplicateKey(err)) continue;
        throw err;
      }
    }
    if (current.jobId === job.id) return job.id;
    const [header, stored] = await Promise.all([
      jobs.findOne({ _id: current.jobId, queue: job.queue }, { projection: { pending: 1 } }),
      deliveries.find({ jobId: current.jobId, queue: job.queue }, { projection: { state: 1 } }).toArray(),
    ]);
    // Pending while a delivery is queued or running, or while its writer is still storing them.
    const open = stored.some((d) => d.state === 'queued' || d.state === 'running') || (stored.length === 0 && (header?.pending?.length ?? 0) > 0);
    if (open) return current.jobId;
    const taken = await dedupe.updateOne({ _id, jobId: current.jobId }, { $set: { jobId: job.id } });
    if (taken.modifiedCount === 1) return job.id;
  }
}

function deliveryOf(h: JobDoc, target: PendingDelivery, index: number, maxAttempts: number): DeliveryDoc {
  // A delivery document has no progress field until its handler reports progress.
  const { id, progress: _, ...fresh } = newDelivery({ id: h._id, priority: h.priority, runAt: h.runAt, options: { attempts: maxAttempts } }, target, index);
  return { _id: id, ...fresh, index, queue: h.queue, enq: h.enq, jobCreatedAt: h.createdAt, name: h.name, args: h.args, options: h.options, ...(h.grp != null && { grp: h.grp }) };
}

/**
 * Job ids share one space in the store's collections: an id that another queue holds is refused
 * with `ID_CONFLICT` rather than answered as if it were this queue's job.
 */
function refuseOtherQueues(stored: { queue: string; jobId: string }[], jobs: NewJob[]): void {
  const wanted = new Map(jobs.map((j) => [j.id, j.queue]));
  for (const doc of stored) {
    const queue = wanted.get(doc.jobId);
    if (queue !== undefined && queue !== doc.queue) {
      throw new SkqError('ID_CONFLICT', `job id "${doc.jobId}" is taken by queue "${doc.queue}": job ids are unique across the queues of one MongoDB database`, {
        context: { jobId: doc.jobId, queue, field: 'jobId' },
      });
    }
  }
}

/** Inserts documents, ignoring those whose `_id` is stored already; returns those ids. */
async function insertIgnoringDuplicates<T extends { _id: string }>(collection: { insertMany(docs: T[], o: { ordered: false }): Promise<unknown> }, docs: T[]): Promise<Set<string>> {
  try {
    await collection.insertMany(docs, { ordered: false });
    return new Set();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const writeErrors = (err as { writeErrors?: { index: number }[] | { index: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    return new Set(list.map((w) => docs[w.index]!._id));
  }
}
