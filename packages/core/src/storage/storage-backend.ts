import type { StorageCapabilities } from './contract.js';
import type { AdminStorage } from './roles/admin-storage.js';
import type { EventStorage } from './roles/event-storage.js';
import type { GroupStorage } from './roles/group-storage.js';
import type { JobStorage } from './roles/job-storage.js';
import type { LeaseStorage } from './roles/lease-storage.js';
import type { ScheduleStorage } from './roles/schedule-storage.js';
import type { WorkerStorage } from './roles/worker-storage.js';

/**
 * The storage contract, composed of its roles. Every call names its queue, so a backend can keep each queue apart
 * (one Redis Cluster slot, one key range). Every backend implements it and runs `runStorageContract` from `@skq/testing`.
 *
 * Guarantees every backend gives:
 * - `enqueue` is atomic per job: all of a job's deliveries are stored, or none. It is idempotent per
 *   job id: a stored id is answered as it is, so an enqueue resent after a lost reply never duplicates.
 *   A job id names one job per queue; a backend that keeps one id space for the whole store refuses
 *   an id that another queue holds with `ID_CONFLICT`. It never answers an enqueue it did not store.
 * - `claim` is atomic: a delivery is leased to one claimer at a time.
 * - `complete`, `fail` and `extendLease` act only under the current {@link LeaseToken}: the holder
 *   and the attempt number of its claim. A stale token (another worker's, or an earlier attempt's
 *   late call) is refused with `LEASE_LOST`.
 * - A lease that expires is taken back by `recoverExpired`; nothing acknowledged is lost. A broadcast
 *   delivery whose worker is gone ends failed with `WORKER_GONE`, so it is not left queued for ever.
 * - A store with `capabilities.groups` has the methods of {@link GroupStorage} and keeps its limits and turns in `claim`.
 * - A delivery that ends succeeded or failed is counted in its minute's `throughput`. When a job's
 *   last delivery ends, the retention rule in its options (`removeOnComplete` or `removeOnFail`)
 *   applies: `{ count: 0 }` deletes it at once, else the queue's ended jobs of that kind are trimmed
 *   to the newest `count` and to `ageMs`, at least every `trimEvery(rule)` endings.
 *
 * @example
 * ```ts
 * const backend: StorageBackend = await openBackend('sqlite:.skunq/skunq.db');
 * const { deliveries } = await backend.claim({ queue: 'demo', route: 'foo', workerId: 'w1', limit: 10, leaseMs: 30_000 });
 * ```
 */
export interface StorageBackend extends JobStorage, LeaseStorage, AdminStorage, WorkerStorage, ScheduleStorage, EventStorage, Partial<GroupStorage> {
  readonly kind: string;
  readonly capabilities: StorageCapabilities;

  /**
   * Releases connections and timers. Once it has resolved no listener is called any more (events
   * already read are dropped) and every call fails with `BACKEND_UNAVAILABLE`.
   */
  close(): Promise<void>;
}
