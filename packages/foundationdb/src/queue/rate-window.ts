import type { RateLimit } from '@skq/core';
import type { LimitScope } from './group-transactions.js';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';
import { decode, encode } from './records.js';

/**
 * A claim stamps its starts (`startedAt`) with its clock read right after its read version, both in
 * whole ms, so a stamp may run 1 ms ahead of its version: a start counts in its window for `perMs`
 * + 1 ms of versions, so that the stamped start times keep the rate too.
 */
const STAMP_SLACK_MS = 1;

/**
 * The sliding window of a rate (a group's, scope `g`, or a route's, `r`) inside one claim, on the
 * cluster's clock, as leases are: the nth start of the window's key is stored under `rs, scope, key,
 * n` with the read version of the claim that made it, and how many there have been under `rsn`.
 * Starts are numbered in commit order, so their versions grow with n, and one more start (number
 * n + 1) fits exactly when start n + 1 - max has left the window (at least `perMs` of versions old)
 * or was pruned (which only happens once it has): no `perMs` window then holds more than `max`.
 * One point read decides, however large `max` is; the last `max` starts are kept.
 *
 * Reads are snapshots, so a claim held back conflicts with nothing; a claim that starts one takes a
 * read conflict on the count, which every start writes, so of two claims racing for the last place
 * one commits and the other runs again and finds the window full.
 */
export class RateWindow {
  private count: number | null = null;
  private added = 0;
  private checked: { added: number; opensAt: number | null } | null = null;

  constructor(
    private readonly qt: QueueTransaction,
    private readonly scope: LimitScope,
    private readonly key: string,
    private readonly rate: RateLimit,
    /** The claim's read version: the clock the window runs on. */
    private readonly version: number,
  ) {}

  /**
   * Null when one more start fits now; else when the window lets one through, on the claim's clock
   * (its `now` plus the versions still to pass).
   */
  async opensAt(): Promise<number | null> {
    if (this.checked?.added === this.added) return this.checked.opensAt;
    this.count ??= await this.readCount();
    const oldest = this.count + this.added + 1 - this.rate.max;
    let opensAt: number | null = null;
    if (oldest >= 1) {
      const raw = await this.qt.tr.snapshot.get(this.qt.keys.key('rs', this.scope, this.key, oldest));
      const windowVersions = (this.rate.perMs + STAMP_SLACK_MS) * VERSIONS_PER_MS;
      const startedAt = raw ? decode<number>(raw) : null;
      if (startedAt !== null && startedAt > this.version - windowVersions) opensAt = this.qt.now + Math.ceil((startedAt + windowVersions - this.version) / VERSIONS_PER_MS);
    }
    this.checked = { added: this.added, opensAt };
    return opensAt;
  }

  /** Records a start at the claim's read version; call only after {@link opensAt} said it fits. */
  record(): void {
    const countKey = this.qt.keys.key('rsn', this.scope, this.key);
    if (this.added === 0) this.qt.tr.addReadConflictKey(countKey);
    this.added += 1;
    const n = this.count! + this.added;
    this.qt.tr.set(this.qt.keys.key('rs', this.scope, this.key, n), encode(this.version));
    this.qt.tr.set(countKey, encode(n));
    // Starts before n + 1 - max are never consulted again.
    if (n - this.rate.max >= 1) this.qt.tr.clearRange(this.qt.keys.range('rs', this.scope, this.key)[0], this.qt.keys.key('rs', this.scope, this.key, n + 1 - this.rate.max));
  }

  private async readCount(): Promise<number> {
    const raw = await this.qt.tr.snapshot.get(this.qt.keys.key('rsn', this.scope, this.key));
    return raw ? decode<number>(raw) : 0;
  }
}
