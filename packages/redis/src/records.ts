import { aggregateState, type Delivery, type JobRecord, type JobState, type WorkerInfo } from '@skq/core';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const json = (v: string | undefined): unknown => (v === undefined || v === '' ? null : JSON.parse(v));

/** The immutable part of a job, stored as one JSON field. */
export interface JobSpec {
  name: string;
  args: unknown[];
  routes: string[];
  type: JobRecord['type'];
  priority: number;
  createdAt: number;
  options: JobRecord['options'];
  dedupeKey: string | null;
}

/** A delivery hash as stored by the scripts. */
export function toDelivery(queue: string, id: string, h: Record<string, string>, now: number): Delivery {
  const runAt = Number(h.runAt);
  const state = (h.state === 'queued' && runAt > now ? 'scheduled' : h.state) as JobState;
  return {
    id,
    jobId: id.slice(0, id.lastIndexOf('.')),
    queue,
    route: h.route!,
    targetWorker: h.target || null,
    state,
    priority: Number(h.priority),
    runAt,
    attempts: Number(h.attempts ?? 0),
    maxAttempts: Number(h.max),
    workerId: h.worker || null,
    leaseUntil: num(h.lease),
    startedAt: num(h.started),
    finishedAt: num(h.finished),
    result: json(h.result),
    error: json(h.error) as Delivery['error'],
    cancelRequested: h.cancel === '1',
  };
}

/** A job hash and its delivery hashes. */
export function toJobRecord(queue: string, id: string, h: Record<string, string>, deliveries: Delivery[]): JobRecord {
  const started = deliveries.map((d) => d.startedAt).filter((v): v is number => v !== null);
  const finished = deliveries.map((d) => d.finishedAt);
  const spec = JSON.parse(h.spec!) as JobSpec;
  return {
    id,
    queue,
    name: spec.name,
    args: spec.args,
    routes: spec.routes,
    type: spec.type,
    priority: spec.priority,
    createdAt: spec.createdAt,
    dedupeKey: spec.dedupeKey,
    options: spec.options,
    state: aggregateState(deliveries, (h.empty || 'cancelled') as JobState),
    attempts: deliveries.reduce((sum, d) => sum + d.attempts, 0),
    startedAt: started.length ? Math.min(...started) : null,
    finishedAt: finished.length && finished.every((f) => f !== null) ? Math.max(...(finished as number[])) : null,
    deliveries,
  };
}

export function toWorker(queue: string, id: string, h: Record<string, string>): WorkerInfo {
  return {
    id,
    queue,
    routes: h.routes ? h.routes.split(',') : [],
    hostname: h.hostname ?? '',
    pid: Number(h.pid),
    startedAt: Number(h.started),
    lastSeenAt: Number(h.lastSeen),
    expiresAt: Number(h.expires),
  };
}
