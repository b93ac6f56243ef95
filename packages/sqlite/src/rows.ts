import { type Delivery, type JobEvent } from '@skq/core';
import { claimableArgs, runOptionsOf, type ClaimedDelivery } from '@skq/core/backend';
import { ROW_EVENT_NAME } from './schema.js';

// The relational rows every SQL backend shares (jobs, workers, schedules) are read by core's
// relational-rows; these are SQLite's own: the claim's arrays and the change feed's rows.
export { runOptionsOf, storedOptions, toJobRecord, toWorker, type DeliveryRow, type JobRow, type WorkerRow } from '@skq/core/backend';

const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

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

/** A claimed row as the claim reads it back: its values in `CLAIMED_COLUMNS` order, then its key. */
export type ClaimedRow = [
  id: string, dix: number, targetWorker: string | null, priority: number, runAt: number, attempts: number, maxAttempts: number,
  recoveries: number, finishedAt: number | null, outcome: string | null, progress: string | null, cancelRequested: number | null,
  name: string, args: string, options: string | null, fanout: number | null, grp: string | null, k: number,
];

/** What the claim set on the row itself, with the claimed row: a running delivery for the worker (its id `<id>.<dix>`, made once by the claim). Throws when its stored args cannot be read. */
export function toClaimed(row: ClaimedRow, deliveryId: string, claim: { queue: string; route: string; workerId: string; now: number; leaseUntil: number }): ClaimedDelivery {
  const [id, , targetWorker, priority, runAt, attempts, maxAttempts, recoveries, finishedAt, outcome, progress, cancelRequested, name, args, options, , grp] = row;
  const claimed: ClaimedDelivery = {
    id: deliveryId,
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
  if (grp !== null) claimed.group = grp;
  return claimed;
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
