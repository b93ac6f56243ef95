import type { Delivery, JobRecord, JobRunOptions } from './job-records.js';
import type { ScheduleRecord } from './schedule-records.js';
import type { WorkerInfo } from './worker-records.js';
import { DEFAULT_RUN_OPTIONS } from './default-run-options.js';
import { deliveryState } from './delivery-state.js';
import { summarizeDeliveries } from './delivery-summary.js';
import { storedArgs, storedRunOptions } from './stored-json.js';

// The rows of the relational layout that the SQL backends (SQLite, PostgreSQL) share: one row per
// delivery carrying its job, a row per worker and per schedule, with these columns. Each backend keeps
// its own SQL; what a row means is written once, here. A flag is a boolean (PostgreSQL) or 0/1 (SQLite).

/**
 * Delivery states as the relational layout stores them, by name, and the names by code.
 *
 * @example
 * ```ts
 * db.prepare('UPDATE skq_jobs SET state = ? WHERE id = ?').run(RELATIONAL_STATE_CODE.running, id);
 * ```
 */
export const RELATIONAL_STATE_CODE = { queued: 0, running: 1, succeeded: 2, failed: 3, cancelled: 4 } as const;
/**
 * The state names by code (see {@link RELATIONAL_STATE_CODE}).
 *
 * @example
 * ```ts
 * RELATIONAL_STATE_NAME[row.state]; // 'running'
 * ```
 */
export const RELATIONAL_STATE_NAME = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

type Flag = boolean | number | null;
const flag = (v: Flag): boolean => v === true || v === 1;
const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

/**
 * A delivery's columns of a jobs row.
 *
 * @example
 * ```ts
 * const row = db.prepare('SELECT * FROM skq_jobs WHERE id = ? AND dix = ?').get(id, 0) as DeliveryRow;
 * ```
 */
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
  cancel_requested: Flag;
}

/**
 * A whole jobs row: a delivery and its job's header.
 *
 * @example
 * ```ts
 * const record = toJobRecord(rows as JobRow[], Date.now());
 * ```
 */
export interface JobRow extends DeliveryRow {
  name: string;
  args: string;
  routes: string | null;
  broadcast: Flag;
  fanout: number | null;
  created_at: number;
  options: string | null;
  dedupe_key: string | null;
  /** The job's group (a store with groups). */
  grp?: string | null;
}

/**
 * A workers row.
 *
 * @example
 * ```ts
 * const worker = toWorker(row as WorkerRow);
 * ```
 */
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

/**
 * A schedules row.
 *
 * @example
 * ```ts
 * const schedules = (rows as ScheduleRow[]).map(toScheduleRecord);
 * ```
 */
export interface ScheduleRow {
  queue: string;
  id: string;
  definition: string;
  state: string | null;
  next_run_at: number | null;
  waiting_job_id: string | null;
  paused: Flag;
  fired_count: number;
  last_fired_at: number | null;
  last_job_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

/**
 * A delivery that just ended, as its ending statement read it back: what its end (throughput, the
 * job's end, retention) needs.
 *
 * @example
 * ```ts
 * const ended: EndedDelivery = { queue, jobId, deliveryId, route: row.route, workerId, fanout: row.fanout, options: row.options };
 * ```
 */
export interface EndedDelivery {
  queue: string;
  jobId: string;
  deliveryId: string;
  route: string;
  workerId: string | null;
  /** How many deliveries its job has, when more than one (else null: the job ended with it). */
  fanout: number | null;
  options: string | null;
}

const DEFAULT_OPTIONS_JSON = JSON.stringify(DEFAULT_RUN_OPTIONS);
let lastStored: { options: JobRunOptions; text: string | null } | undefined;

/**
 * A job's run options as the `options` column stores them: NULL for the defaults, which nearly every job has.
 *
 * @example
 * ```ts
 * storedOptions(DEFAULT_RUN_OPTIONS); // null
 * ```
 */
export function storedOptions(options: JobRunOptions): string | null {
  // Jobs of one definition share their option values (the same objects): the last text is reused.
  const last = lastStored?.options;
  if (last && last.attempts === options.attempts && last.backoff === options.backoff && last.timeoutMs === options.timeoutMs &&
    last.removeOnComplete === options.removeOnComplete && last.removeOnFail === options.removeOnFail && last.delayMs === options.delayMs) {
    return lastStored!.text;
  }
  const text = JSON.stringify(options);
  lastStored = { options, text: text === DEFAULT_OPTIONS_JSON ? null : text };
  return lastStored.text;
}

/**
 * A job's run options from its `options` column (see {@link storedOptions}).
 *
 * @example
 * ```ts
 * runOptionsOf(null); // DEFAULT_RUN_OPTIONS
 * ```
 */
export function runOptionsOf(options: string | null): JobRunOptions {
  return options === null ? DEFAULT_RUN_OPTIONS : storedRunOptions(options);
}

/**
 * The job id and delivery index of a delivery id (`<jobId>.<dix>`; a custom job id may itself hold dots).
 * An id that is not a delivery id gets index -2, which no row has.
 *
 * @example
 * ```ts
 * parseDeliveryId('order.7.0'); // { id: 'order.7', dix: 0 }
 * ```
 */
export function parseDeliveryId(deliveryId: string): { id: string; dix: number } {
  const dot = deliveryId.lastIndexOf('.');
  const dix = dot < 0 ? NaN : Number(deliveryId.slice(dot + 1));
  return { id: deliveryId.slice(0, dot), dix: Number.isInteger(dix) && dix >= 0 && dix < 2 ** 31 ? dix : -2 };
}

/**
 * A delivery from its row, its state as of `now` (a queued one not yet due is scheduled).
 *
 * @example
 * ```ts
 * const delivery = toDelivery(row, Date.now());
 * ```
 */
export function toDelivery(row: DeliveryRow, now: number): Delivery {
  const state = RELATIONAL_STATE_NAME[row.state]!;
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
    cancelRequested: flag(row.cancel_requested),
    progress: json(row.progress),
  };
}

/**
 * A job's record from its rows, by delivery index (a job with no delivery has one row, index -1).
 *
 * @example
 * ```ts
 * const record = toJobRecord(rowsOfOneJob, Date.now());
 * ```
 */
export function toJobRecord(rows: JobRow[], now: number): JobRecord {
  const head = rows[0]!;
  const deliveries = rows.filter((r) => r.dix >= 0).map((r) => toDelivery(r, now));
  return {
    id: head.id,
    queue: head.queue,
    name: head.name,
    args: storedArgs(head.args),
    routes: head.routes === null ? [head.route!] : JSON.parse(head.routes),
    type: flag(head.broadcast) ? 'broadcast' : 'direct',
    priority: head.priority,
    createdAt: head.created_at,
    dedupeKey: head.dedupe_key,
    ...(head.grp != null && { group: head.grp }),
    options: runOptionsOf(head.options),
    ...summarizeDeliveries(deliveries, 'cancelled'),
    deliveries,
  };
}

/**
 * A worker's registration from its row.
 *
 * @example
 * ```ts
 * const workers = (rows as WorkerRow[]).map(toWorker);
 * ```
 */
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

/**
 * A schedule from its row (its definition is the stored fingerprint: rule and job).
 *
 * @example
 * ```ts
 * const schedules = (rows as ScheduleRow[]).map(toScheduleRecord);
 * ```
 */
export function toScheduleRecord(row: ScheduleRow): ScheduleRecord {
  const { rule, job } = JSON.parse(row.definition) as Pick<ScheduleRecord, 'rule' | 'job'>;
  return {
    id: row.id,
    queue: row.queue,
    rule,
    job,
    state: row.state === null ? null : JSON.parse(row.state),
    nextRunAt: row.next_run_at,
    waitingJobId: row.waiting_job_id,
    paused: flag(row.paused),
    firedCount: row.fired_count,
    lastFiredAt: row.last_fired_at,
    lastJobId: row.last_job_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
