// The Redis backend's calls made under a delivery's lease (fail, extend, progress), a claim's
// settlement, and the recovery of leases that expired. A script's `missing` or `lost:…` status
// becomes core's LEASE_LOST here.
import { type SkqError } from '@skq/core';
import { MAX_LEASE_RECOVERIES, expiredLeaseErrorOf, leaseLost, requestedFailureOutcome, workerGoneError, type ClaimResult, type FailRequest, type LeaseToken } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { decodeClaim } from './records.js';
import { Script } from './script-runner.js';

/** Core's WORKER_GONE error with placeholders, which recover-expired fills in for each delivery it fails. */
const WORKER_GONE_TEMPLATE = JSON.stringify(workerGoneError({ id: '@@ID@@', targetWorker: '@@WORKER@@' }));

/** Core's LEASE_LOST error of an expired lease with placeholders, which recover-expired fills in for each delivery it ends. */
function expiredLeaseTemplate(outcome: 'cancelled' | 'failed'): string {
  return JSON.stringify(expiredLeaseErrorOf('@@ID@@', '@@WORKER@@', '@@TIMES@@', outcome));
}
const EXPIRED_LEASE_TEMPLATES = [expiredLeaseTemplate('cancelled'), expiredLeaseTemplate('failed')];

const SCRIPTS = {
  fail: new Script('fail'),
  extendLease: new Script('extend_lease'),
  recover: new Script('recover_expired'),
  setProgress: new Script('set_progress'),
};

export async function fail(runner: CommandRunner, queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
  const retryAt = request.retryAt == null ? '' : Math.round(request.retryAt);
  const hold = request.rateLimited?.holdGroupUntil;
  const args = [lease.workerId, lease.deliveryId, JSON.stringify(request.error), retryAt, requestedFailureOutcome(request), lease.attempt, request.rateLimited ? '1' : '', hold == null ? '' : Math.round(hold)];
  const status = String(await runner.run('fail', queue, SCRIPTS.fail, runner.keys(queue).active, args));
  if (status === 'retrying' || status === 'failed' || status === 'cancelled') return status;
  throw leaseError(status, queue, lease);
}

/** A claim's deliveries; one whose stored job cannot be read fails now, so it never blocks the route. */
export async function settleClaim(runner: CommandRunner, queue: string, route: string, workerId: string, raw: unknown): Promise<ClaimResult> {
  const { result, unreadable } = decodeClaim(queue, route, workerId, raw);
  for (const { lease, error } of unreadable) await fail(runner, queue, lease, { error, retryAt: null, cancelled: false });
  return result;
}

/** One script call per worker; returns the leases still held, now extended. */
export async function extendLease(runner: CommandRunner, queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
  const byWorker = new Map<string, LeaseToken[]>();
  for (const lease of leases) byWorker.set(lease.workerId, [...(byWorker.get(lease.workerId) ?? []), lease]);
  const held: LeaseToken[] = [];
  for (const [workerId, mine] of byWorker) {
    const args = [workerId, leaseMs, ...mine.flatMap((l) => [l.deliveryId, l.attempt])];
    const ids = new Set((await runner.run('extendLease', queue, SCRIPTS.extendLease, runner.keys(queue).active, args)) as string[]);
    held.push(...mine.filter((l) => ids.has(l.deliveryId)));
  }
  return held;
}

export async function recoverExpired(runner: CommandRunner, queue: string, now?: number): Promise<number> {
  return Number(await runner.run('recoverExpired', queue, SCRIPTS.recover, runner.keys(queue).active, [MAX_LEASE_RECOVERIES, WORKER_GONE_TEMPLATE, ...EXPIRED_LEASE_TEMPLATES], now));
}

export async function setProgress(runner: CommandRunner, queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
  const args = [lease.workerId, lease.deliveryId, lease.attempt, JSON.stringify(progress ?? null)];
  const status = String(await runner.run('setProgress', queue, SCRIPTS.setProgress, runner.keys(queue).active, args));
  if (status !== 'ok') throw leaseError(status, queue, lease);
}

/** The error of a script's `missing` or `lost:<state>:<attempt>:<holder>` status (the holder last: worker ids hold ':'). */
export function leaseError(status: string, queue: string, lease: LeaseToken): SkqError {
  if (status === 'missing') return leaseLost(queue, lease, null);
  const match = /^lost:([^:]*):([^:]*):(.*)$/s.exec(status);
  return leaseLost(queue, lease, { state: match?.[1] ?? 'unknown', attempts: Number(match?.[2] ?? 0), workerId: match?.[3] || null });
}
