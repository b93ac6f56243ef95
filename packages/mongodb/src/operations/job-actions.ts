// What is done to a stored job from outside its worker: cancel, reschedule, retry, remove. Each
// step is single-document atomic; where one spans documents, the order is chosen so that a process
// dying in between leaves a state the next call repairs or reports.
import { cancelledError } from '@skq/core/backend';
import type { EventDoc } from '../documents.js';
import { afterEnd, removeEndedJobs } from './retention.js';
import type { MongoStore } from './store.js';

/**
 * Cancel. Reads: the job's queued and running deliveries. Writes: each queued one `cancelled` with
 * the cancelled error (a compare-and-set on `queued`) and its retention; each running one marked
 * `cancelRequested`, so it ends `cancelled` if its worker fails it or its lease expires; a
 * `cancelled` or `cancel-requested` event each. Returns whether the job had an open delivery.
 */
export async function cancelJob(store: MongoStore, queue: string, jobId: string): Promise<boolean> {
  const { c } = store;
  const now = Date.now();
  const rows = await c.deliveries.find({ jobId, queue, state: { $in: ['queued', 'running'] } }).toArray();
  const error = JSON.stringify(cancelledError(jobId));
  const events: EventDoc[] = [];
  for (const row of rows) {
    const ended = await c.deliveries.updateOne({ _id: row._id, state: 'queued' }, { $set: { state: 'cancelled', finishedAt: now, error } });
    if (ended.modifiedCount === 1) {
      events.push(store.event(queue, 'cancelled', jobId, row._id, row.route, null, now));
      await afterEnd(store, row, 'cancelled', now);
      continue;
    }
    const running = await c.deliveries.findOneAndUpdate({ _id: row._id, state: 'running' }, { $set: { cancelRequested: true } });
    if (running) events.push(store.event(queue, 'cancel-requested', jobId, row._id, row.route, running.workerId, now));
  }
  store.record(events);
  return rows.length > 0;
}

/**
 * Reschedule. Reads: the job's queued deliveries. Writes: their run time (still only while queued,
 * so one claimed meanwhile keeps running) and a `rescheduled` event each. Returns false when none
 * was queued.
 */
export async function rescheduleJob(store: MongoStore, queue: string, jobId: string, runAt: number): Promise<boolean> {
  const { c } = store;
  const rows = await c.deliveries.find({ jobId, queue, state: 'queued' }, { projection: { route: 1 } }).toArray();
  if (rows.length === 0) return false;
  await c.deliveries.updateMany({ _id: { $in: rows.map((r) => r._id) }, state: 'queued' }, { $set: { runAt } });
  store.record(rows.map((r) => store.event(queue, 'rescheduled', jobId, r._id, r.route, null, Date.now())));
  return true;
}

/**
 * Runs the failed and cancelled deliveries of a job again. Reads: those deliveries. Writes: each
 * queued again at `runAt` with `attempts` more tries and its outcome cleared, a compare-and-set on
 * its state and attempts (so a concurrent retry finds none left); a `retrying` event each; the
 * job's header no longer ended. Returns how many deliveries run again.
 */
export async function retryJob(store: MongoStore, queue: string, jobId: string, runAt: number, attempts: number): Promise<number> {
  const { c } = store;
  const rows = await c.deliveries.find({ jobId, queue, state: { $in: ['failed', 'cancelled'] } }).toArray();
  const events: EventDoc[] = [];
  for (const row of rows) {
    // The compare-and-set is on the state as read, which must be an ended one: mongo-java-server can answer a
    // find with a document a concurrent update changed after it matched (it is sent after the collection's lock),
    // and a CAS on that `queued` would queue the job a second time.
    if (row.state !== 'failed' && row.state !== 'cancelled') continue;
    const changed = await c.deliveries.updateOne(
      { _id: row._id, state: row.state, attempts: row.attempts },
      {
        $set: {
          state: 'queued', runAt, maxAttempts: row.attempts - (row.recoveries ?? 0) + attempts,
          workerId: null, leaseUntil: null, finishedAt: null, result: null, error: null, cancelRequested: false,
        },
      },
    );
    if (changed.modifiedCount === 1) events.push(store.event(queue, 'retrying', jobId, row._id, row.route, null, Date.now()));
  }
  if (events.length) await c.jobs.updateOne({ _id: jobId }, { $unset: { endedAt: '', endedKind: '' } });
  store.record(events);
  return events.length;
}

/** Removes jobs, one after another (see {@link removeJob}). Returns the ids removed. */
export async function removeJobs(store: MongoStore, queue: string, jobIds: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const jobId of jobIds) if (await removeJob(store, queue, jobId)) removed.push(jobId);
  return removed;
}

/**
 * Deletes a job unless a delivery of it runs. Reads: the job's deliveries and header. Writes, for a
 * solo job: one conditional delete of its delivery (not while running), then its logs. For a job
 * with a header: its queued deliveries `cancelled` first (so none can be claimed meanwhile), then,
 * if none runs, the whole job (see {@link removeEndedJobs}). A `removed` event. Returns whether it
 * was removed.
 */
async function removeJob(store: MongoStore, queue: string, jobId: string): Promise<boolean> {
  const { c } = store;
  const deliveries = await c.deliveries.find({ jobId, queue }, { projection: { _id: 1, state: 1, solo: 1 } }).toArray();
  const header = await c.jobs.findOne({ _id: jobId, queue }, { projection: { _id: 1 } });
  if (!header && deliveries.length === 0) return false;
  if (deliveries.some((d) => d.state === 'running')) return false;
  if (!header) {
    const gone = await c.deliveries.deleteOne({ _id: deliveries[0]!._id, state: { $ne: 'running' } });
    if (gone.deletedCount !== 1) return false;
    await c.logs.deleteMany({ jobId });
  } else {
    await c.deliveries.updateMany({ jobId, state: 'queued' }, { $set: { state: 'cancelled', finishedAt: Date.now() } });
    if ((await c.deliveries.countDocuments({ jobId, state: 'running' })) > 0) return false;
    await removeEndedJobs(c, jobId);
  }
  store.record([store.event(queue, 'removed', jobId, null, null, null, Date.now())]);
  return true;
}
