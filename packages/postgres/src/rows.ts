import { type Delivery } from '@skq/core';
import { claimableArgs, runOptionsOf, type ClaimedDelivery } from '@skq/core/backend';

// The relational rows every SQL backend shares (jobs, workers, schedules) are read by core's
// relational-rows; these are PostgreSQL's own: the claim's rows and free text without NUL.
export { runOptionsOf, storedOptions, toJobRecord, toWorker, type DeliveryRow, type JobRow, type WorkerRow } from '@skq/core/backend';

const json = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

/**
 * PostgreSQL text holds no NUL character: free text written as such (a dedupe key, a log line)
 * stores it as U+FFFD. JSON columns need nothing: JSON writes it `\u0000`.
 */
export function textOf(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
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
  grp: string | null;
  /** When the claim stamped it, where the claim says (by the server's clock, where a rate counts starts). */
  started_at?: number | null;
}

/** What the claim set on the row itself, with the claimed row: a running delivery for the worker. Throws when its stored args cannot be read. */
export function toClaimed(row: ClaimedRow, claim: { queue: string; route: string; workerId: string; now: number; leaseUntil: number }): ClaimedDelivery {
  const claimed: ClaimedDelivery = {
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
    startedAt: row.started_at ?? claim.now,
    finishedAt: row.finished_at,
    result: null,
    error: json(row.outcome) as Delivery['error'],
    cancelRequested: row.cancel_requested === true,
    progress: json(row.progress),
    name: row.name,
    args: claimableArgs(row.args),
    options: runOptionsOf(row.options),
  };
  if (row.grp !== null) claimed.group = row.grp;
  return claimed;
}
