import { type Delivery, type JobEvent, type JobRecord, type WorkerInfo } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, claimableArgs, deliveryState, storedArgs, storedRunOptions, summarizeDeliveries, type ClaimedDelivery, type JobRunOptions } from '@skq/core/backend';
import { ROW_EVENT_NAME, STATE_NAME } from './schema.js';

const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

/** The options as stored: NULL for the defaults, which nearly every job has. */
const DEFAULT_OPTIONS_JSON = JSON.stringify(DEFAULT_RUN_OPTIONS);
export const storedOptions = (options: JobRunOptions): string | null => {
  const text = JSON.stringify(options);
  return text === DEFAULT_OPTIONS_JSON ? null : text;
};
/** A job's run options from its stored column (see {@link storedOptions}). */
export const runOptionsOf = (options: string | null): JobRunOptions => (options === null ? DEFAULT_RUN_OPTIONS : storedRunOptions(options));

/** A delivery's columns of a skq_jobs row (`DELIVERY_COLUMNS`). */
export interface DeliveryRow {
  id: string;
  dix: number;
  queue: string;
  route: string | null;
  target_worker: string | null;
  state: number;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  recoveries: number;
  worker_id: string | null;
  lease_until: number | null;
  started_at: number | null;
  finished_at: number | null;
  outcome: string | null;
  progress: string | null;
  cancel_requested: number | null;
}

/** A whole skq_jobs row: a delivery and its job's header. */
export interface JobRow extends DeliveryRow {
  name: string;
  args: string;
  routes: string | null;
  broadcast: number | null;
  fanout: number | null;
  created_at: number;
  options: string | null;
  dedupe_key: string | null;
}

export interface WorkerRow {
  id: string;
  queue: string;
  routes: string;
  hostname: string;
  pid: number;
  started_at: number;
  last_seen_at: number;
  expires_at: number;
  state: string;
  running_job_ids: string;
  command: string | null;
}

/** A row of skq_events: a notice. */
export interface NoticeRow {
  seq: number;
  queue: string;
  type: string;
  job_id: string;
  delivery_id: string | null;
  route: string | null;
  worker_id: string | null;
  at: number;
  data: string | null;
}

/** A changed row, as the event feed reads it. */
export interface ChangedRow {
  id: string;
  dix: number;
  queue: string;
  route: string | null;
  worker_id: string | null;
  target_worker: string | null;
  seq: number;
  ev: number;
  ev_at: number | null;
  created_at: number;
}

export function toDelivery(row: DeliveryRow, now: number): Delivery {
  const state = STATE_NAME[row.state]!;
  return {
    id: `${row.id}.${row.dix}`,
    jobId: row.id,
    queue: row.queue,
    route: row.route!,
    targetWorker: row.target_worker,
    state: deliveryState(state, row.run_at, now),
    priority: row.priority,
    runAt: row.run_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    recoveries: row.recoveries,
    workerId: row.worker_id,
    leaseUntil: row.lease_until,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: state === 'succeeded' ? json(row.outcome) : null,
    error: state === 'succeeded' ? null : (json(row.outcome) as Delivery['error']),
    cancelRequested: row.cancel_requested === 1,
    progress: json(row.progress),
  };
}

/** A claimed row as the claim reads it back: its values in `CLAIMED_COLUMNS` order. */
export type ClaimedRow = [
  id: string, dix: number, targetWorker: string | null, priority: number, runAt: number, attempts: number, maxAttempts: number,
  recoveries: number, finishedAt: number | null, outcome: string | null, progress: string | null, cancelRequested: number | null,
  name: string, args: string, options: string | null, fanout: number | null,
];

/** What the claim set on the row itself, with the claimed row: a running delivery for the worker. Throws when its stored args cannot be read. */
export function toClaimed(row: ClaimedRow, claim: { queue: string; route: string; workerId: string; now: number; leaseUntil: number }): ClaimedDelivery {
  const [id, dix, targetWorker, priority, runAt, attempts, maxAttempts, recoveries, finishedAt, outcome, progress, cancelRequested, name, args, options] = row;
  return {
    id: `${id}.${dix}`,
    jobId: id,
    queue: claim.queue,
    route: claim.route,
    targetWorker,
    state: 'running',
    priority,
    runAt,
    attempts,
    maxAttempts,
    recoveries,
    workerId: claim.workerId,
    leaseUntil: claim.leaseUntil,
    startedAt: claim.now,
    finishedAt,
    result: null,
    error: json(outcome) as Delivery['error'],
    cancelRequested: cancelRequested === 1,
    progress: json(progress),
    name,
    args: claimableArgs(args),
    options: runOptionsOf(options),
  };
}

/** A job's record from its rows, by delivery index (a job with no delivery has one row, index -1). */
export function toJobRecord(rows: JobRow[], now: number): JobRecord {
  const head = rows[0]!;
  const deliveries = rows.filter((r) => r.dix >= 0).map((r) => toDelivery(r, now));
  return {
    id: head.id,
    queue: head.queue,
    name: head.name,
    args: storedArgs(head.args),
    routes: head.routes === null ? [head.route!] : JSON.parse(head.routes),
    type: head.broadcast ? 'broadcast' : 'direct',
    priority: head.priority,
    createdAt: head.created_at,
    dedupeKey: head.dedupe_key,
    options: runOptionsOf(head.options),
    ...summarizeDeliveries(deliveries, 'cancelled'),
    deliveries,
  };
}

export function toWorker(row: WorkerRow): WorkerInfo {
  return {
    id: row.id,
    queue: row.queue,
    routes: JSON.parse(row.routes),
    hostname: row.hostname,
    pid: row.pid,
    startedAt: row.started_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    state: row.state as WorkerInfo['state'],
    runningJobIds: JSON.parse(row.running_job_ids) as string[],
    command: json(row.command) as WorkerInfo['command'],
  };
}

export function noticeToEvent(row: NoticeRow): JobEvent {
  return {
    seq: row.seq,
    type: row.type as JobEvent['type'],
    queue: row.queue,
    jobId: row.job_id || null,
    deliveryId: row.delivery_id,
    route: row.route,
    workerId: row.worker_id,
    at: row.at,
    ...(row.data !== null && { data: JSON.parse(row.data) }),
  };
}

/** The event a changed row stands for: its last change. A job with no delivery stands for its `cancelled` end. */
export function changeToEvent(row: ChangedRow): JobEvent {
  const type = ROW_EVENT_NAME[row.ev]!;
  return {
    seq: row.seq,
    type: row.dix < 0 ? 'cancelled' : type,
    queue: row.queue,
    jobId: row.id,
    deliveryId: row.dix < 0 ? null : `${row.id}.${row.dix}`,
    route: row.route,
    workerId: type === 'enqueued' ? row.target_worker : row.worker_id,
    at: row.ev_at ?? row.created_at,
  };
}
