import { type Delivery, type JobEvent, type JobRecord, type JobState, type WorkerInfo } from '@skq/core';
import { claimableArgs, deliveryState, storedArgs, storedRunOptions, summarizeDeliveries, type ClaimedDelivery } from '@skq/core/backend';

const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

/** A row of skq_deliveries. */
export interface DeliveryRow {
  id: string;
  job_id: string;
  queue: string;
  route: string;
  target_worker: string | null;
  state: string;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  recoveries: number;
  worker_id: string | null;
  lease_until: number | null;
  started_at: number | null;
  finished_at: number | null;
  result: string | null;
  error: string | null;
  cancel_requested: number;
  progress: string | null;
}

/** A row of skq_jobs. */
export interface JobRow {
  id: string;
  queue: string;
  name: string;
  args: string;
  routes: string;
  type: string;
  priority: number;
  created_at: number;
  options: string;
  dedupe_key: string | null;
  empty_state: string | null;
  ended_at: number | null;
  ended_kind: string | null;
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

export interface EventRow {
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

export function toDelivery(row: DeliveryRow, now: number): Delivery {
  return {
    id: row.id,
    jobId: row.job_id,
    queue: row.queue,
    route: row.route,
    targetWorker: row.target_worker,
    state: deliveryState(row.state, row.run_at, now),
    priority: row.priority,
    runAt: row.run_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    recoveries: row.recoveries,
    workerId: row.worker_id,
    leaseUntil: row.lease_until,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : JSON.parse(row.error),
    cancelRequested: row.cancel_requested === 1,
    progress: json(row.progress),
  };
}

export function toClaimed(row: DeliveryRow, job: Pick<JobRow, 'name' | 'args' | 'options'>, now: number): ClaimedDelivery {
  return { ...toDelivery(row, now), name: job.name, args: claimableArgs(job.args), options: JSON.parse(job.options) };
}

export function toJobRecord(row: JobRow, deliveryRows: DeliveryRow[], now: number): JobRecord {
  const deliveries = deliveryRows.map((d) => toDelivery(d, now));
  return {
    id: row.id,
    queue: row.queue,
    name: row.name,
    args: storedArgs(row.args),
    routes: JSON.parse(row.routes),
    type: row.type as JobRecord['type'],
    priority: row.priority,
    createdAt: row.created_at,
    dedupeKey: row.dedupe_key,
    options: storedRunOptions(row.options),
    ...summarizeDeliveries(deliveries, (row.empty_state ?? 'cancelled') as JobState),
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

export function toEvent(row: EventRow): JobEvent {
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
