import { SkqError, type LogMeta } from '@skq/core';
import { CONJUNCTION_JOB, leaseOf, type ClaimedDelivery, type LeaseToken, type LeaseStorage } from '@skq/core/backend';
import type { AttemptControl } from './attempt-control.js';
import { contextOf } from './run-attempt.js';

/** What a {@link LeaseKeeper} needs from its route worker. */
export interface LeaseKeeperSettings {
  backend: LeaseStorage;
  queue: string;
  /** The worker that holds the leases. */
  workerId: string;
  leaseMs: number;
  /** Reports a renewal that failed; `meta` names the deliveries and the error. */
  warn(message: string, meta?: LogMeta): void;
}

/** A claimed delivery whose lease leaves time to run, and when that lease ends at the earliest. */
export interface Admitted {
  delivery: ClaimedDelivery;
  leaseEndsBy: number;
}

/** One attempt whose lease is kept. */
interface Held {
  readonly delivery: ClaimedDelivery;
  readonly controller: AttemptControl;
  /** The lease ends no earlier than this, by this process's clock: when the claim or last renewal was sent, plus the lease. */
  leaseEndsBy: number;
}

/**
 * The key of one attempt of a delivery, `<deliveryId>#<attempt>`: a worker may already run the next
 * attempt of a delivery (taken back while a server was away) while the outcome of the last one is
 * still being reported, so the delivery id alone does not name an attempt.
 *
 * @example
 * ```ts
 * attemptKey({ deliveryId: 'job-1.0', attempt: 2 }); // 'job-1.0#2'
 * attemptKey(leaseOf(delivery));
 * ```
 */
export function attemptKey(lease: Pick<LeaseToken, 'deliveryId' | 'attempt'>): string {
  return `${lease.deliveryId}#${lease.attempt}`;
}

/**
 * Keeps the leases of one worker's running attempts: when each ends at the earliest, renewing them,
 * and aborting an attempt whose lease is lost (LEASE_LOST), since another worker may run it now.
 * Deadlines are judged by this process's clock from when a claim or renewal was sent, never the server's.
 *
 * @example
 * ```ts
 * const keeper = new LeaseKeeper({ backend, queue: 'demo', workerId, leaseMs: 30_000, warn: (message) => console.warn(message) });
 * const sentAt = Date.now();
 * const { deliveries } = await backend.claim({ queue: 'demo', route: 'foo', workerId, limit: 4, leaseMs: 30_000 });
 * for (const { delivery, leaseEndsBy } of await keeper.admit(deliveries, sentAt)) {
 *   const controller = new AttemptControl();
 *   keeper.hold(delivery, controller, leaseEndsBy);
 *   // … run the attempt with `controller`, then:
 *   keeper.release(delivery);
 * }
 * setInterval(() => void keeper.renewAll(), 10_000);
 * ```
 */
export class LeaseKeeper {
  /**
   * By the claimed delivery itself, one object per attempt: a next attempt of the same delivery is
   * another claim's object. (A key string built and hashed at hold and release cost a no-op job
   * about a tenth of a worker's own time.)
   */
  private readonly held = new Map<ClaimedDelivery, Held>();

  constructor(private readonly settings: LeaseKeeperSettings) {}

  /**
   * The claimed deliveries whose lease leaves time to run, with when each lease ends at the earliest.
   * A claim answered late (a server paused or stalled after it set the lease, a slow network) may carry
   * leases nearly or wholly spent, which another worker may take back before the first renewal: those
   * are renewed before their handlers start, and a delivery whose lease could not be renewed is left to
   * whoever holds it now. `sentAt` is when the claim was sent.
   */
  async admit(deliveries: ClaimedDelivery[], sentAt: number): Promise<Admitted[]> {
    const { leaseMs } = this.settings;
    if (deliveries.length === 0 || Date.now() - sentAt < leaseMs / 2) return deliveries.map((delivery) => ({ delivery, leaseEndsBy: sentAt + leaseMs }));
    const renewAt = Date.now();
    const renewed = await this.renew(deliveries.map(leaseOf));
    const isKept = (d: ClaimedDelivery) => renewed.has(attemptKey(leaseOf(d)));
    const lost = deliveries.filter((d) => !isKept(d));
    if (lost.length) this.settings.warn(`${lost.length} claimed jobs had lost their lease before they could start (${lost.map((d) => d.jobId).join(', ')}); not running them`, { jobIds: lost.map((d) => d.jobId) });
    return deliveries.filter(isKept).map((delivery) => ({ delivery, leaseEndsBy: renewAt + leaseMs }));
  }

  /**
   * Keeps the lease of an attempt that starts now, until {@link LeaseKeeper.release}. A conjunction's
   * `controller.leaseCheck` is set to check the lease before each further part.
   */
  hold(delivery: ClaimedDelivery, controller: AttemptControl, leaseEndsBy: number): void {
    const held: Held = { delivery, controller, leaseEndsBy };
    this.held.set(delivery, held);
    if (delivery.name === CONJUNCTION_JOB) controller.leaseCheck = (part) => this.checkBeforePart(held, part);
  }

  /** Stops keeping an attempt's lease: its outcome is stored, or given up. */
  release(delivery: ClaimedDelivery): void {
    this.held.delete(delivery);
  }

  /**
   * Renews every lease held (the pool's renewal timer). A renewal that keeps a lease moves its deadline;
   * an attempt whose lease is lost is aborted with LEASE_LOST. A backend that fails rejects, and the
   * timer's next turn tries again.
   */
  async renewAll(): Promise<void> {
    const held = [...this.held.values()];
    if (held.length === 0) return;
    const { backend, queue, leaseMs, workerId } = this.settings;
    const sentAt = Date.now();
    const leases = held.map((h) => leaseOf(h.delivery));
    const kept = new Set((await backend.extendLease(queue, leases, leaseMs)).map(attemptKey));
    held.forEach((h, i) => {
      // Only attempts still held: one that ended meanwhile has nothing left to renew or abort. (The same
      // delivery may be running again under a newer claim: that is another attempt, held apart.)
      if (this.held.get(h.delivery) !== h) return;
      const lease = leases[i]!;
      if (kept.has(attemptKey(lease))) h.leaseEndsBy = Math.max(h.leaseEndsBy, sentAt + leaseMs);
      else h.controller.abort(new SkqError('LEASE_LOST', `attempt ${lease.attempt} of ${lease.deliveryId} lost its lease`, { context: { deliveryId: lease.deliveryId, workerId } }));
    });
  }

  /**
   * Before a further part of a conjunction: whether the attempt still holds its lease. One that may
   * have run out (the process was stalled past the renewals) is renewed first; if that fails, the
   * attempt is aborted with LEASE_LOST and the part is not started.
   */
  private async checkBeforePart(held: Held, part: string): Promise<boolean> {
    const { leaseMs } = this.settings;
    if (Date.now() < held.leaseEndsBy - leaseMs / 2) return true;
    const sentAt = Date.now();
    const lease = leaseOf(held.delivery);
    if ((await this.renew([lease])).has(attemptKey(lease))) {
      held.leaseEndsBy = sentAt + leaseMs;
      return true;
    }
    const { delivery } = held;
    held.controller.abort(new SkqError('LEASE_LOST', `the lease of ${delivery.id} ran out before ${part}; the part was not started`, { context: contextOf(delivery) }));
    return false;
  }

  /** Renews leases that may have run out, now; the keys of the attempts whose lease was renewed (none if the backend failed). */
  private async renew(leases: LeaseToken[]): Promise<Set<string>> {
    const { leaseMs, backend, queue } = this.settings;
    return backend.extendLease(queue, leases, leaseMs).then(
      (kept) => new Set(kept.map(attemptKey)),
      (err: unknown) => {
        this.settings.warn(`could not renew ${leases.length} leases that may have run out; leaving those jobs to be taken back`, { deliveryIds: leases.map((l) => l.deliveryId), err });
        return new Set<string>();
      },
    );
  }
}
