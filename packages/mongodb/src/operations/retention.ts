import type { EndedKind, RetentionRule } from '@skq/core/backend';
import type { Collections } from '../collections.js';
import type { DeliveryDoc } from '../documents.js';
import type { MongoStore } from './store.js';

/** Jobs deleted per trim, so one trim stays short. */
const TRIM_BATCH = 1_000;

/**
 * What follows a delivery's end: its throughput count and its job's retention (see
 * {@link jobEnded}). A failure here is warned about and never turns the ending into an error: the
 * delivery has ended, and the next ending or trim catches up.
 */
export async function afterEnd(store: MongoStore, row: DeliveryDoc, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): Promise<void> {
  await jobEnded(store, row, outcome, now).catch((err: unknown) => store.warn(`mongodb: retention of job ${row.jobId} failed`, { queue: row.queue, jobId: row.jobId, err }));
}

/**
 * A delivery ended as `outcome`: counts it (not a cancelled one), and once its job has no open
 * delivery, applies the job's retention.
 *
 * Reads: for a job with several deliveries, their states. Writes: that job's header (`endedAt`,
 * `endedKind`: `failed` if any delivery failed or was cancelled) once all have ended; then, as the
 * job's `removeOnComplete`/`removeOnFail` rule says, deletes the job or trims the queue's ended jobs.
 */
async function jobEnded(store: MongoStore, doc: DeliveryDoc, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): Promise<void> {
  if (outcome !== 'cancelled') store.tallies.count(doc.queue, doc.route, outcome, now);
  const { c } = store;
  let kind: EndedKind = outcome === 'succeeded' ? 'completed' : 'failed';
  if (!doc.solo) {
    const states = (await c.deliveries.find({ jobId: doc.jobId }, { projection: { state: 1 } }).toArray()).map((d) => d.state);
    if (states.some((s) => s === 'queued' || s === 'running')) return;
    if (states.some((s) => s === 'failed' || s === 'cancelled')) kind = 'failed';
    await c.jobs.updateOne({ _id: doc.jobId }, { $set: { endedAt: now, endedKind: kind } });
  }
  const step = store.retention.afterEnd(doc.queue, kind, doc.options);
  if (step.action === 'remove') await removeEndedJobs(c, doc.jobId);
  else if (step.action === 'trim') await trim(c, doc.queue, kind, step.rule, now);
}

/**
 * Trims the queue's ended jobs of one kind, at most {@link TRIM_BATCH} of each group per call. Solo
 * jobs (one delivery, no header) and jobs with a header end in two collections: the newest `count`
 * of both together are kept. Reads: the ended solo deliveries and headers past the rule's age, or
 * else the end times of the newest `count` of each, then those past the kept ones (by
 * `finishedAt`/`endedAt`). Writes: deletes them (see {@link removeEndedJobs}).
 */
async function trim(c: Collections, queue: string, kind: EndedKind, rule: RetentionRule, now: number): Promise<void> {
  const states: DeliveryDoc['state'][] = kind === 'completed' ? ['succeeded'] : ['failed', 'cancelled'];
  const solo = { queue, solo: true as const, state: { $in: states } };
  const headers = { queue, endedKind: kind };
  const victims: string[] = [];
  if (rule.ageMs !== null) {
    const before = now - rule.ageMs;
    victims.push(...(await c.deliveries.find({ ...solo, finishedAt: { $lt: before } }, { projection: { jobId: 1 } }).limit(TRIM_BATCH).toArray()).map((d) => d.jobId));
    victims.push(...(await c.jobs.find({ ...headers, endedAt: { $lt: before } }, { projection: { _id: 1 } }).limit(TRIM_BATCH).toArray()).map((j) => j._id));
  }
  if (rule.count !== null && victims.length === 0) {
    // The newest `count` of both groups together are kept: how many of each that is, from their end times.
    const count = rule.count;
    const soloTimes = count === 0 ? [] : (await c.deliveries.find(solo, { projection: { finishedAt: 1 } }).sort({ finishedAt: -1 }).limit(count).toArray()).map((d) => d.finishedAt ?? 0);
    const headerTimes = count === 0 ? [] : (await c.jobs.find(headers, { projection: { endedAt: 1 } }).sort({ endedAt: -1 }).limit(count).toArray()).map((j) => j.endedAt ?? 0);
    let [keptSolo, keptHeaders] = [0, 0];
    while (keptSolo + keptHeaders < count && (keptSolo < soloTimes.length || keptHeaders < headerTimes.length)) {
      if (keptHeaders >= headerTimes.length || (keptSolo < soloTimes.length && soloTimes[keptSolo]! >= headerTimes[keptHeaders]!)) keptSolo += 1;
      else keptHeaders += 1;
    }
    victims.push(...(await c.deliveries.find(solo, { projection: { jobId: 1 } }).sort({ finishedAt: -1 }).skip(keptSolo).limit(TRIM_BATCH).toArray()).map((d) => d.jobId));
    victims.push(...(await c.jobs.find(headers, { projection: { _id: 1 } }).sort({ endedAt: -1 }).skip(keptHeaders).limit(TRIM_BATCH).toArray()).map((j) => j._id));
  }
  if (victims.length) await removeEndedJobs(c, ...victims);
}

/**
 * Deletes ended jobs. Writes: their deliveries (never a running one), then their headers, then
 * their logs, one `deleteMany` each. The three are not atomic together: a process dying between
 * them leaves a header without deliveries (removable again) or logs of a job that is gone.
 */
export async function removeEndedJobs(c: Collections, ...jobIds: string[]): Promise<void> {
  await c.deliveries.deleteMany({ jobId: { $in: jobIds }, state: { $ne: 'running' } });
  await c.jobs.deleteMany({ _id: { $in: jobIds } });
  await c.logs.deleteMany({ jobId: { $in: jobIds } });
}
