// The transactions of a queue's state around its jobs: pause, counts, throughput, logs, call
// records, workers and their commands, and schedules. Each is the body of one transaction.
import {
  type LogLine,
  type ScheduleRecord,
  type StateCounts,
  type WorkerInfo,
} from '@skq/core';
import {
  JOB_STATES,
  THROUGHPUT_WINDOW_MS,
  minuteOf,
  scheduleFingerprint,
  scheduleSaveOutcome,
  zeroStateCounts,
  type CallRecord,
  type CallRecordQuery,
  type NewJob,
  type ScheduleDefinition,
  type ScheduleFiring,
  type ScheduleSaveOutcome,
  type ThroughputBucket,
  type WorkerCommand,
  type WorkerRegistration,
  type WorkerStatus,
} from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';
import { counterValue, decode, encode, type StoredWorker } from './records.js';

/** Call records kept per queue; older ones are cleared as new ones come. */
const CALL_RECORDS_KEPT = 10_000;

/** Pause or resume. Reads: the route's pause key (claims read it too, so they conflict). Writes: the key, a `paused` or `resumed` event. Returns false when it already was so. */
export async function setPaused(qt: QueueTransaction, route: string, paused: boolean): Promise<boolean> {
  const key = qt.keys.key('paused', route);
  const was = (await qt.tr.get(key)) !== undefined;
  if (was === paused) return false;
  if (paused) qt.tr.set(key, Buffer.alloc(0));
  else qt.tr.clear(key);
  qt.event(paused ? 'paused' : 'resumed', null, null, route, null);
  return true;
}

export async function pausedRoutes(qt: QueueTransaction): Promise<string[]> {
  const rows = await qt.tr.snapshot.getRange(...qt.keys.range('paused'));
  return rows.map(([key]) => unpack(key).slice(-1)[0] as string).sort();
}

/**
 * Counts per route and state, from the counters (atomic adds, so reading them costs no scan) and
 * the timer index, which tells the queued deliveries whose run time is still ahead (`scheduled`).
 */
export async function countByState(qt: QueueTransaction): Promise<StateCounts> {
  const counts: StateCounts = {};
  for (const [key, value] of await qt.tr.snapshot.getRange(...qt.keys.range('c'))) {
    const [route, state] = unpack(key).slice(3) as [string, (typeof JOB_STATES)[number]];
    counts[route] ??= zeroStateCounts();
    counts[route]![state] += counterValue(value);
  }
  for (const [key] of await qt.tr.snapshot.getRange(...qt.keys.range('t'))) {
    const [route, , runAt] = unpack(key).slice(3) as [string, string, number];
    if (runAt <= qt.now || !counts[route]) continue;
    counts[route]!.scheduled += 1;
    counts[route]!.queued -= 1;
  }
  for (const [route, byState] of Object.entries(counts)) if (JOB_STATES.every((s) => byState[s] === 0)) delete counts[route];
  return counts;
}

export async function throughput(qt: QueueTransaction, since: number): Promise<ThroughputBucket[]> {
  const rows = await qt.tr.snapshot.getRange(qt.keys.key('tp', minuteOf(since)), qt.keys.range('tp')[1]);
  const buckets = new Map<string, ThroughputBucket>();
  for (const [key, value] of rows) {
    const [minute, route, kind] = unpack(key).slice(3) as [number, string, 'c' | 'f'];
    const id = `${minute}\0${route}`;
    let bucket = buckets.get(id);
    if (!bucket) buckets.set(id, (bucket = { minute, route, completed: 0, failed: 0 }));
    if (kind === 'c') bucket.completed += counterValue(value);
    else bucket.failed += counterValue(value);
  }
  return [...buckets.values()];
}

export function appendLogs(qt: QueueTransaction, lines: LogLine[]): void {
  lines.forEach((line, i) => {
    const jobId = line.deliveryId.slice(0, line.deliveryId.lastIndexOf('.'));
    const { key, offset } = qt.keys.versionstamped(['log', jobId], i);
    qt.tr.setVersionstampedKey(key, offset, encode(line));
  });
}

export async function getLogs(qt: QueueTransaction, jobId: string): Promise<LogLine[]> {
  return (await qt.tr.snapshot.getRange(...qt.keys.range('log', jobId))).map(([, value]) => decode<LogLine>(value));
}

export async function appendCallRecord(qt: QueueTransaction, record: CallRecord): Promise<void> {
  const { key, offset } = qt.keys.versionstamped(['cr'], 0);
  qt.tr.setVersionstampedKey(key, offset, encode(record));
  const countKey = qt.keys.key('crN');
  const count = counterValue(await qt.tr.snapshot.get(countKey));
  qt.tr.add(countKey, 1);
  if (count < CALL_RECORDS_KEPT + 1_000) return;
  const oldest = await qt.tr.snapshot.getRange(...qt.keys.range('cr'), { limit: count - CALL_RECORDS_KEPT });
  for (const [old] of oldest) qt.tr.clear(old);
  qt.tr.add(countKey, -oldest.length);
}

export async function listCallRecords(qt: QueueTransaction, query: CallRecordQuery): Promise<CallRecord[]> {
  const out: CallRecord[] = [];
  for (const [, value] of await qt.tr.snapshot.getRange(...qt.keys.range('cr'), { reverse: true, limit: query.name ? CALL_RECORDS_KEPT : query.limit })) {
    const record = decode<CallRecord>(value);
    if (query.name && record.name !== query.name) continue;
    out.push(record);
    if (out.length >= query.limit) break;
  }
  return out;
}

/** Live workers: registrations whose expiry version is ahead of this transaction's read version. */
export async function liveWorkers(qt: QueueTransaction): Promise<WorkerInfo[]> {
  const version = await qt.version();
  const out: WorkerInfo[] = [];
  for (const [, value] of await qt.tr.snapshot.getRange(...qt.keys.range('w'))) {
    const w = decode<StoredWorker>(value);
    if (w.expiresVersion > version) out.push(toWorker(qt, w, version));
  }
  return out;
}

/** Register. Reads the read version only. Writes: the registration, expiring at a version `ttlMs` ahead. */
export async function registerWorker(qt: QueueTransaction, info: WorkerRegistration, ttlMs: number): Promise<void> {
  const version = await qt.version();
  const stored: StoredWorker = {
    ...info,
    lastSeenAt: qt.now,
    expiresAt: qt.now + ttlMs,
    expiresVersion: version + ttlMs * VERSIONS_PER_MS,
    state: 'running',
    runningJobIds: [],
    command: null,
  };
  delete (stored as Partial<WorkerInfo>).queue;
  qt.tr.set(qt.keys.key('w', info.id), encode(stored));
}

/** Heartbeat. Reads: the registration. Writes: it renewed to a later version, with the status and any command marked obeyed. Returns it, or null if it had expired. */
export async function heartbeat(qt: QueueTransaction, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
  const version = await qt.version();
  const raw = await qt.tr.get(qt.keys.key('w', workerId));
  if (!raw) return null;
  const w = decode<StoredWorker>(raw);
  if (w.expiresVersion <= version) return null;
  if (w.command && w.command.id === status.obeyedCommandId && w.command.obeyedAt === null) w.command = { ...w.command, obeyedAt: qt.now };
  Object.assign(w, { lastSeenAt: qt.now, expiresAt: qt.now + ttlMs, expiresVersion: version + ttlMs * VERSIONS_PER_MS, state: status.state, runningJobIds: status.runningJobIds });
  qt.tr.set(qt.keys.key('w', workerId), encode(w));
  return toWorker(qt, w, version);
}

/** Command a worker. Reads: its registration. Writes: the command on it, a `worker-command` event. Returns false if no live worker has the id. */
export async function sendWorkerCommand(qt: QueueTransaction, workerId: string, command: WorkerCommand): Promise<boolean> {
  const version = await qt.version();
  const raw = await qt.tr.get(qt.keys.key('w', workerId));
  if (!raw) return false;
  const w = decode<StoredWorker>(raw);
  if (w.expiresVersion <= version) return false;
  w.command = command;
  qt.tr.set(qt.keys.key('w', workerId), encode(w));
  qt.event('worker-command', null, null, null, workerId, command.id);
  return true;
}

/** Unregister. Reads: the registration, for its routes. Writes: it and its claimer presence on each route cleared. */
export async function unregisterWorker(qt: QueueTransaction, workerId: string): Promise<void> {
  const raw = await qt.tr.get(qt.keys.key('w', workerId));
  qt.tr.clear(qt.keys.key('w', workerId));
  for (const route of raw ? decode<WorkerInfo>(raw).routes : []) qt.tr.clear(qt.keys.key('cl', route, workerId));
}

function toWorker(qt: QueueTransaction, w: StoredWorker, version: number): WorkerInfo {
  const { expiresVersion, ...info } = w;
  // The expiry is a cluster version; people get it as this machine's estimate of the instant.
  return { ...info, queue: qt.queue, expiresAt: qt.now + Math.round((expiresVersion - version) / VERSIONS_PER_MS) };
}

/** A schedule as stored: the record, its definition as compared text, and the nonce of the call that last fired it. */
interface StoredSchedule extends ScheduleRecord {
  definition: string;
}

/** Save a schedule. Reads: the stored one. Writes: a new or changed definition. Returns created, updated or unchanged. */
export async function saveSchedule(qt: QueueTransaction, def: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
  const key = qt.keys.key('s', def.id);
  const raw = await qt.tr.get(key);
  const definition = scheduleFingerprint(def);
  const existing = raw ? decode<StoredSchedule>(raw) : null;
  const outcome = scheduleSaveOutcome(existing?.definition, definition);
  if (outcome === 'unchanged') return outcome;
  const record: StoredSchedule = {
    id: def.id,
    queue: qt.queue,
    rule: def.rule,
    job: def.job,
    state: def.state,
    nextRunAt: def.nextRunAt,
    waitingJobId: null,
    paused: existing?.paused ?? false,
    firedCount: existing?.firedCount ?? 0,
    lastFiredAt: existing?.lastFiredAt ?? null,
    lastJobId: existing?.lastJobId ?? null,
    version: (existing?.version ?? 0) + 1,
    createdAt: existing?.createdAt ?? qt.now,
    updatedAt: qt.now,
    definition,
  };
  qt.tr.set(key, encode(record));
  return outcome;
}

export async function listSchedules(qt: QueueTransaction): Promise<ScheduleRecord[]> {
  return (await qt.tr.snapshot.getRange(...qt.keys.range('s'))).map(([, value]) => {
    const { definition: _definition, ...record } = decode<StoredSchedule>(value);
    return record;
  });
}

export async function setSchedulePaused(qt: QueueTransaction, id: string, paused: boolean): Promise<boolean> {
  const key = qt.keys.key('s', id);
  const raw = await qt.tr.get(key);
  if (!raw) return false;
  const s = decode<StoredSchedule>(raw);
  qt.tr.set(key, encode({ ...s, paused, version: s.version + 1, updatedAt: qt.now }));
  return true;
}

export async function removeSchedule(qt: QueueTransaction, id: string): Promise<boolean> {
  const key = qt.keys.key('s', id);
  if (!(await qt.tr.get(key))) return false;
  qt.tr.clear(key);
  return true;
}

/**
 * Fire a tick. Reads: the schedule (so two firers of one tick conflict, and one of them finds the
 * version moved on). Writes: the tick's job (as enqueue does) and the schedule moved on. Returns
 * whether this call fired it.
 */
export async function fireSchedule(qt: QueueTransaction, id: string, version: number, firing: ScheduleFiring, enqueue: (job: NewJob) => Promise<unknown>): Promise<boolean> {
  const key = qt.keys.key('s', id);
  const raw = await qt.tr.get(key);
  if (!raw) return false;
  const s = decode<StoredSchedule>(raw);
  if (s.version !== version || s.paused) return false;
  await enqueue(firing.job);
  qt.tr.set(
    key,
    encode({ ...s, nextRunAt: firing.nextRunAt, waitingJobId: firing.waitingJobId, firedCount: s.firedCount + 1, lastFiredAt: firing.firedAt, lastJobId: firing.job.id, version: s.version + 1, updatedAt: firing.firedAt }),
  );
  return true;
}

/** Advance a schedule that waited for its job. Reads: the schedule. Writes: its next tick if still at `version`. Returns whether it did. */
export async function advanceSchedule(qt: QueueTransaction, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
  const key = qt.keys.key('s', id);
  const raw = await qt.tr.get(key);
  if (!raw) return false;
  const s = decode<StoredSchedule>(raw);
  if (s.version !== version) return false;
  qt.tr.set(key, encode({ ...s, nextRunAt: next.nextRunAt, state: next.state, waitingJobId: null, version: s.version + 1, updatedAt: qt.now }));
  return true;
}

/** How long events are kept for subscribers that fell behind. */
const EVENT_RETENTION_MS = 3_600_000;

/**
 * Clears what is past keeping: throughput older than 24 hours, events older than an hour,
 * transaction markers older than ten minutes, and registrations expired an hour ago. Runs with
 * lease recovery, which every worker calls on a timer.
 */
export async function sweep(qt: QueueTransaction): Promise<void> {
  qt.tr.clearRange(qt.keys.range('tp')[0], qt.keys.key('tp', minuteOf(qt.now - THROUGHPUT_WINDOW_MS)));
  qt.tr.clearRange(qt.keys.range('tx')[0], qt.keys.key('tx', minuteOf(qt.now - 600_000)));
  const version = await qt.version();
  const oldest = Math.max(0, version - EVENT_RETENTION_MS * VERSIONS_PER_MS);
  // Event keys end in a versionstamp, whose first 8 bytes are the commit version.
  const stamp = Buffer.alloc(12);
  stamp.writeBigUInt64BE(BigInt(oldest));
  qt.tr.clearRange(qt.keys.range('ev')[0], Buffer.concat([qt.keys.key('ev'), Buffer.from([0x33]), stamp]));
  for (const [key, value] of await qt.tr.snapshot.getRange(...qt.keys.range('w'))) {
    if (decode<StoredWorker>(value).expiresVersion < oldest) qt.tr.clear(key);
  }
}
