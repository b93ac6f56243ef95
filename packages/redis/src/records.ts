import { aggregateState, type Delivery, type JobRecord, type JobState, type WorkerInfo } from '@skq/core';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const json = (v: string | undefined): unknown => (v === undefined || v === '' ? null : JSON.parse(v));

/** A delivery hash as stored by the scripts. */
export function toDelivery(queue: string, id: string, h: Record<string, string>, now: number): Delivery {
  const runAt = Number(h.runAt);
  const state = (h.state === 'queued' && runAt > now ? 'scheduled' : h.state) as JobState;
  return {
    id,
    jobId: h.job!,
    queue,
    route: h.route!,
    targetWorker: h.target || null,
    state,
    priority: Number(h.priority),
    runAt,
    attempts: Number(h.attempts),
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
  return {
    id,
    queue,
    name: h.name!,
    args: JSON.parse(h.args!),
    routes: JSON.parse(h.routes!),
    type: h.type as JobRecord['type'],
    priority: Number(h.priority),
    createdAt: Number(h.created),
    dedupeKey: h.dedupe || null,
    options: JSON.parse(h.options!),
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
