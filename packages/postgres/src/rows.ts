import { type Delivery, type JobRecord, type WorkerInfo } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, claimableArgs, deliveryState, storedArgs, storedRunOptions, summarizeDeliveries, type ClaimedDelivery, type JobRunOptions } from '@skq/core/backend';
import { STATE_NAME } from './schema.js';

const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

/** The options as stored: NULL for the defaults, which nearly every job has. */
const DEFAULT_OPTIONS_JSON = JSON.stringify(DEFAULT_RUN_OPTIONS);
export const storedOptions = (options: JobRunOptions): string | null => {
  // Jobs of one definition share their option values (the same objects): the last text is reused.
  const last = lastStored;
  if (last && last.options.attempts === options.attempts && last.options.backoff === options.backoff && last.options.timeoutMs === options.timeoutMs &&
    last.options.removeOnComplete === options.removeOnComplete && last.options.removeOnFail === options.removeOnFail && last.options.delayMs === options.delayMs) {
    return last.text;
  }
  const text = JSON.stringify(options);
  lastStored = { options, text: text === DEFAULT_OPTIONS_JSON ? null : text };
  return lastStored.text;
};
let lastStored: { options: JobRunOptions; text: string | null } | undefined;
/** A job's run options from its stored column (see {@link storedOptions}). */
export const runOptionsOf = (options: string | null): JobRunOptions => (options === null ? DEFAULT_RUN_OPTIONS : storedRunOptions(options));

/**
 * PostgreSQL text holds no NUL character: free text written as such (a dedupe key, a log line)
 * stores it as U+FFFD. JSON columns need nothing: JSON writes it `\u0000`.
 */
export function textOf(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

/** A delivery's columns of a jobs row (`DELIVERY_COLUMNS`). */
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
  cancel_requested: boolean | null;
}

/** A whole jobs row: a delivery and its job's header. */
export interface JobRow extends DeliveryRow {
  name: string;
  args: string;
  routes: string | null;
  broadcast: boolean | null;
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

/** A claimed row, as the claim returns it. */
export interface ClaimedRow {
  k: number;
  id: string;
  dix: number;
  target_worker: string | null;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  recoveries: number;
  finished_at: number | null;
  outcome: string | null;
  progress: string | null;
  cancel_requested: boolean | null;
  name: string;
  args: string;
  options: string | null;
  fanout: number | null;
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
    cancelRequested: row.cancel_requested === true,
    progress: json(row.progress),
  };
}

/** What the claim set on the row itself, with the claimed row: a running delivery for the worker. Throws when its stored args cannot be read. */
export function toClaimed(row: ClaimedRow, claim: { queue: string; route: string; workerId: string; now: number; leaseUntil: number }): ClaimedDelivery {
  return {
    id: `${row.id}.${row.dix}`,
    jobId: row.id,
    queue: claim.queue,
    route: claim.route,
    targetWorker: row.target_worker,
    state: 'running',
    priority: row.priority,
    runAt: row.run_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    recoveries: row.recoveries,
    workerId: claim.workerId,
    leaseUntil: claim.leaseUntil,
    startedAt: claim.now,
    finishedAt: row.finished_at,
    result: null,
    error: json(row.outcome) as Delivery['error'],
    cancelRequested: row.cancel_requested === true,
    progress: json(row.progress),
    name: row.name,
    args: claimableArgs(row.args),
    options: runOptionsOf(row.options),
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
