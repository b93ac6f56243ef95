import type { ClaimRequest, ClaimResult, LeaseToken } from '@skq/core/backend';
import { closedError, type CommandRunner } from './command-runner.js';
import { leaseError, settleClaim } from './lease-operations.js';
import { Script } from './script-runner.js';
import type { WaitingClaims } from './waiting-claims.js';

const SCRIPTS = {
  claim: new Script('claim'),
  complete: new Script('complete'),
  completeAndClaim: new Script('complete_and_claim'),
};

interface PendingCompletion {
  lease: LeaseToken;
  result: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface PendingClaim {
  route: string;
  limit: number;
  leaseMs: number;
  /** A waiting claim's wait (ms); 0: none. */
  waitMs: number;
  signal: AbortSignal | undefined;
  resolve: (result: ClaimResult | Promise<ClaimResult>) => void;
  reject: (err: unknown) => void;
}

interface WorkerBatch {
  queue: string;
  workerId: string;
  completions: PendingCompletion[];
  claims: PendingClaim[];
}

/**
 * Claims and completions, batched per worker: the calls one worker makes in a tick go to Redis
 * together on the next one. Completions and the first claim share one script call (one round trip
 * when a worker finishes jobs and wants more); further claims go as calls of their own.
 */
export class WorkerBatches {
  private readonly batches = new Map<string, WorkerBatch>();
  private flushScheduled = false;

  constructor(
    private readonly runner: CommandRunner,
    private readonly waits: WaitingClaims,
  ) {}

  claim(request: ClaimRequest): Promise<ClaimResult> {
    const { queue, route, workerId } = request;
    if (request.now !== undefined) {
      const args = [route, workerId, request.leaseMs, request.limit];
      return this.runner.run('claim', queue, SCRIPTS.claim, this.runner.keys(queue).waiting(route), args, request.now).then((raw) => settleClaim(this.runner, queue, route, workerId, raw));
    }
    // Batched with the same worker's completions: one round trip when a worker finishes jobs and wants more.
    const waitMs = Math.max(0, Math.round(request.waitMs ?? 0));
    return new Promise((resolve, reject) => this.batchFor(queue, workerId).claims.push({ route, limit: request.limit, leaseMs: request.leaseMs, waitMs, signal: request.signal, resolve, reject }));
  }

  complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    return new Promise((resolve, reject) => this.batchFor(queue, lease.workerId).completions.push({ lease, result: JSON.stringify(result ?? null), resolve, reject }));
  }

  /** A claim's answer; a claim that parked its worker answers when its wait ends (not holding up the batch). */
  private settle(queue: string, workerId: string, claim: PendingClaim, raw: unknown): Promise<ClaimResult> {
    const [, next, , , , , parked] = raw as unknown[];
    if (parked !== 1) return settleClaim(this.runner, queue, claim.route, workerId, raw);
    const nextRunAt = typeof next === 'string' ? Number(next) : null;
    return this.waits.wait({ queue, route: claim.route, workerId, waitMs: claim.waitMs, nextRunAt, signal: claim.signal });
  }

  /** Sends what is waiting for the next tick now, before the backend closes. */
  async flushPending(): Promise<void> {
    if (this.flushScheduled) await this.flushBatches();
  }

  /** The calls one worker makes in this tick; they go to Redis together on the next one. */
  private batchFor(queue: string, workerId: string): WorkerBatch {
    if (this.runner.closed) throw closedError('claim');
    const key = `${queue}\u0000${workerId}`;
    let batch = this.batches.get(key);
    if (!batch) this.batches.set(key, (batch = { queue, workerId, completions: [], claims: [] }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the current burst of promise callbacks: the jobs finishing together go in one call.
      process.nextTick(() => void this.flushBatches());
    }
    return batch;
  }

  private async flushBatches(): Promise<void> {
    this.flushScheduled = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    await Promise.all(batches.map((batch) => this.flushBatch(batch)));
  }

  private async flushBatch({ queue, workerId, completions, claims }: WorkerBatch): Promise<void> {
    const keys = this.runner.keys(queue);
    const pairs = completions.flatMap((item) => [item.lease.deliveryId, item.lease.attempt, item.result]);
    const settleCompletions = (statuses: string[]) =>
      completions.forEach((item, i) => (statuses[i] === 'ok' ? item.resolve() : item.reject(leaseError(statuses[i] ?? 'missing', queue, item.lease))));
    const failAll = (items: { reject: (err: unknown) => void }[], err: unknown) => items.forEach((item) => item.reject(err));
    let rest = claims;
    if (completions.length > 0 && claims.length > 0) {
      const [first] = claims;
      rest = claims.slice(1);
      try {
        const [statuses, raw] = (await this.runner.run('completeAndClaim', queue, SCRIPTS.completeAndClaim, keys.waiting(first!.route), [workerId, first!.route, first!.leaseMs, first!.limit, first!.waitMs, ...pairs])) as [string[], unknown];
        settleCompletions(statuses);
        first!.resolve(this.settle(queue, workerId, first!, raw));
      } catch (err) {
        failAll([...completions, first!], err);
      }
    } else if (completions.length > 0) {
      try {
        settleCompletions((await this.runner.run('complete', queue, SCRIPTS.complete, keys.active, [workerId, ...pairs])) as string[]);
      } catch (err) {
        failAll(completions, err);
      }
    }
    await Promise.all(
      rest.map(async (claim) => {
        try {
          const raw = await this.runner.run('claim', queue, SCRIPTS.claim, keys.waiting(claim.route), [claim.route, workerId, claim.leaseMs, claim.limit, claim.waitMs]);
          claim.resolve(this.settle(queue, workerId, claim, raw));
        } catch (err) {
          claim.reject(err);
        }
      }),
    );
  }
}
