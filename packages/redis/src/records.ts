import {
  type Delivery,
  type JobRecord,
  type JobState,
  type ScheduleRecord,
  type SerializedError,
  type WorkerInfo,
} from '@skq/core';
import {
  DEFAULT_RUN_OPTIONS,
  claimableArgs,
  deliveryState,
  jobIdOfDelivery,
  storedArgs,
  summarizeDeliveries,
  unreadableJobError,
  type ClaimResult,
  type ClaimedDelivery,
  type JobRunOptions,
  type LeaseToken,
} from '@skq/core/backend';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const json = (v: string | undefined): unknown => (v === undefined || v === '' ? null : JSON.parse(v));

const DEFAULT_OPTIONS_JSON = JSON.stringify({ backoff: DEFAULT_RUN_OPTIONS.backoff, timeoutMs: DEFAULT_RUN_OPTIONS.timeoutMs });

/** Run options other than attempts as stored: '' when they are the defaults, which most jobs use. */
export function encodeRunOptions(options: JobRunOptions): string {
  const { removeOnComplete, removeOnFail, delayMs } = options;
  // Jobs of one definition share their option values (the same objects): the last text is reused.
  const last = lastEncoded;
  if (last && last.backoff === options.backoff && last.timeoutMs === options.timeoutMs && last.removeOnComplete === removeOnComplete && last.removeOnFail === removeOnFail && last.delayMs === delayMs) {
    return last.text;
  }
  const extras = { ...(removeOnComplete && { removeOnComplete }), ...(removeOnFail && { removeOnFail }), ...(delayMs !== undefined && { delayMs }) };
  const json = JSON.stringify({ backoff: options.backoff, timeoutMs: options.timeoutMs, ...extras });
  const text = json === DEFAULT_OPTIONS_JSON ? '' : json;
  lastEncoded = { backoff: options.backoff, timeoutMs: options.timeoutMs, removeOnComplete, removeOnFail, delayMs, text };
  return text;
}
let lastEncoded: (Pick<JobRunOptions, 'backoff' | 'timeoutMs' | 'removeOnComplete' | 'removeOnFail' | 'delayMs'> & { text: string }) | undefined;

export function decodeRunOptions(opts: string | undefined, attempts: number): JobRunOptions {
  if (!opts) return { ...DEFAULT_RUN_OPTIONS, attempts };
  return { attempts, ...(JSON.parse(opts) as Omit<JobRunOptions, 'attempts'>) };
}

/** Record field names as the scripts store them (scripts/common.ts), and the names read here. */
const FIELD_NAMES: Record<string, string> = {
  n: 'name', a: 'args', R: 'routes', c: 'created', N: 'nd', o: 'open', t: 'type', O: 'opts', b: 'bad', k: 'dedupe', E: 'empty',
  A: 'att0', kS: 'keepS', kF: 'keepF', e: 'ended', r: 'route', T: 'target', s: 'state', p: 'priority', u: 'runAt', x: 'attempts',
  m: 'max', q: 'seq', w: 'worker', l: 'lease', S: 'started', f: 'finished', v: 'result', X: 'error', C: 'cancel', z: 'rec', P: 'progress',
  g: 'group',
};
const STATE_NAMES: Record<string, string> = { q: 'queued', r: 'running', s: 'succeeded', f: 'failed', c: 'cancelled' };

/**
 * A record as the scripts return it (a flat list of short field names and values) with its fields
 * named, as text, and the values a script leaves out when they are the usual ones filled in. `job`
 * is the job's record, whose creation time is the run time of a delivery that has none of its own.
 */
export function storedFields(flat: (string | number)[], job?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[FIELD_NAMES[flat[i]!] ?? String(flat[i])] = String(flat[i + 1]);
  if (h.state) h.state = STATE_NAMES[h.state] ?? h.state;
  h.priority ??= '0';
  if (h.name) {
    h.nd ??= '1';
    if (h.route) h.routes ??= h.route;
  }
  if (h.route) {
    h.attempts ??= '0';
    h.runAt ??= (job ?? h).created ?? '';
  }
  return h;
}

/** A delivery hash as stored by the scripts. */
export function toDelivery(queue: string, id: string, h: Record<string, string>, now: number): Delivery {
  const runAt = Number(h.runAt);
  return {
    id,
    jobId: jobIdOfDelivery(id),
    queue,
    route: h.route!,
    targetWorker: h.target || null,
    state: deliveryState(h.state!, runAt, now),
    priority: Number(h.priority),
    runAt,
    attempts: Number(h.attempts ?? 0),
    maxAttempts: Number(h.max),
    recoveries: Number(h.rec ?? 0),
    workerId: h.worker || null,
    leaseUntil: num(h.lease),
    startedAt: num(h.started),
    finishedAt: num(h.finished),
    result: json(h.result),
    error: json(h.error) as Delivery['error'],
    cancelRequested: h.cancel === '1',
    progress: json(h.progress),
  };
}

/** A job hash and its delivery hashes. */
export function toJobRecord(queue: string, id: string, h: Record<string, string>, deliveries: Delivery[]): JobRecord {
  return {
    id,
    queue,
    name: h.name!,
    args: storedArgs(h.args ?? ''),
    routes: h.routes!.split(','),
    type: (h.type ?? 'direct') as JobRecord['type'],
    priority: Number(h.priority),
    createdAt: Number(h.created),
    dedupeKey: h.dedupe || null,
    ...(h.group && { group: h.group }),
    // att0: the budget fired with, kept when a retry gave the delivery a new one.
    options: decodeRunOptions(h.opts, Number(h.att0 ?? h.max)),
    ...summarizeDeliveries(deliveries, (h.empty || 'cancelled') as JobState),
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
    state: (h.state ?? 'running') as WorkerInfo['state'],
    runningJobIds: h.running ? (JSON.parse(h.running) as string[]) : [],
    command: h.command ? (JSON.parse(h.command) as WorkerInfo['command']) : null,
  };
}

/** A schedule hash as the schedule scripts store it. */
export function toScheduleRecord(queue: string, id: string, h: Record<string, string>): ScheduleRecord {
  const { rule, job } = JSON.parse(h.def!) as Pick<ScheduleRecord, 'rule' | 'job'>;
  return {
    id,
    queue,
    rule,
    job,
    state: h.state ? JSON.parse(h.state) : null,
    nextRunAt: num(h.next),
    waitingJobId: h.waiting || null,
    paused: h.paused === '1',
    firedCount: Number(h.fired ?? 0),
    lastFiredAt: num(h.lastFired),
    lastJobId: h.lastJob || null,
    version: Number(h.version),
    createdAt: Number(h.created),
    updatedAt: Number(h.updated),
  };
}

/** A claimed delivery whose stored job cannot be read: the claim fails it with why. */
export interface UnreadableClaim {
  lease: LeaseToken;
  error: SerializedError;
}

/** A claim script's answer: the deliveries to run, and those whose stored job cannot be read. */
export function decodeClaim(queue: string, route: string, workerId: string, raw: unknown): { result: ClaimResult; unreadable: UnreadableClaim[] } {
  // As Redis answers it, or as JSON on a hand-off list (scripts/hand-off.ts), where no next run time is `false`.
  const [rows, next, now, lease, paused, limited] = raw as [string[][], string | null | false, string, string, number, number];
  const startedAt = Number(now);
  const leaseUntil = Number(lease);
  const unreadable: UnreadableClaim[] = [];
  const deliveries: ClaimedDelivery[] = [];
  for (const r of rows) {
    const maxAttempts = Number(r[5]);
    let args: unknown[];
    let options: JobRunOptions;
    try {
      args = claimableArgs(r[7]!);
      options = decodeRunOptions(r[8], maxAttempts);
    } catch (cause) {
      unreadable.push({ lease: { deliveryId: r[0]!, workerId, attempt: Number(r[4]) }, error: unreadableJobError(jobIdOfDelivery(r[0]!), cause) });
      continue;
    }
    deliveries.push({
      id: r[0]!,
      jobId: jobIdOfDelivery(r[0]!),
      queue,
      route,
      targetWorker: r[1] || null,
      state: 'running',
      priority: Number(r[2]),
      runAt: Number(r[3]),
      attempts: Number(r[4]),
      maxAttempts,
      recoveries: Number(r[9] ?? 0),
      workerId,
      leaseUntil,
      startedAt,
      finishedAt: null,
      result: null,
      error: null,
      cancelRequested: false,
      progress: null,
      name: r[6]!,
      args,
      options,
      ...(r[10] && { group: r[10] }),
    });
  }
  const result: ClaimResult = { deliveries, nextRunAt: typeof next === 'string' ? Number(next) : null };
  if (paused === 1) result.paused = true;
  if (limited === 1) result.limited = true;
  return { result, unreadable };
}
