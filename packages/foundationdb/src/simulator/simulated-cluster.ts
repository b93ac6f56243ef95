import { FdbError, isRetryable, type KvDatabase, type KvTransaction, type TransactionOptions } from '../kv/port.js';
import { applyAtomic } from './atomic-ops.js';
import { SeededRandom } from './seeded-random.js';
import type { ClusterPort, CommitRequest } from './cluster-port.js';
import { FDB_LIMITS } from './fdb-limits.js';
import { SimulatedTransaction } from './simulated-transaction.js';
import { VersionedStore } from './versioned-store.js';

/** Faults a simulated cluster injects into commits, on a seed. */
export interface FaultOptions {
  seed: number;
  /** Chance that a commit with writes fails with 1020 not_committed though nothing conflicted. */
  conflictRate?: number;
  /** Chance that a commit with writes fails with 1021 commit_unknown_result; half of those applied. */
  unknownResultRate?: number;
}

/** What a cluster has done, for the figures. */
export interface ClusterStats {
  committed: number;
  conflicts: number;
  injectedConflicts: number;
  unknownResults: number;
  unknownResultsApplied: number;
  keysWritten: number;
  bytesWritten: number;
}

interface CommitRecord {
  version: bigint;
  /** Write conflict ranges, [begin, end) as latin1 strings. */
  writes: [string, string][];
}

interface Watcher {
  key: string;
  value: Buffer | undefined;
  resolve: (changed: boolean) => void;
}

/** Versions advance about a million a second, as FDB's do. */
const VERSIONS_PER_MS = 1_000n;

/**
 * A simulator of FoundationDB's client semantics, in one process: MVCC with a read version per
 * transaction, optimistic conflict checks at commit, snapshot reads, versionstamps in commit order,
 * atomic operations, watches, the size and lifetime limits, and seeded fault injection. Every
 * database opened on one cluster sees the same data, as clients of one FDB cluster do.
 *
 * It is a test double for the client API, not a database: nothing is durable, and it says nothing
 * about real FDB's speed.
 *
 * @example
 * ```ts
 * const cluster = new SimulatedCluster({ seed: 7, conflictRate: 0.05, unknownResultRate: 0.02 });
 * const db = cluster.open();
 * await db.transact(async (tr) => tr.set(Buffer.from('hello'), Buffer.from('world')));
 * ```
 */
export class SimulatedCluster implements ClusterPort {
  readonly store = new VersionedStore();
  readonly stats: ClusterStats = { committed: 0, conflicts: 0, injectedConflicts: 0, unknownResults: 0, unknownResultsApplied: 0, keysWritten: 0, bytesWritten: 0 };
  private version: bigint;
  /** The highest read version handed out: every later commit gets a higher version. */
  private handedOut = 0n;
  private readonly started = Date.now();
  private readonly log: CommitRecord[] = [];
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly random: SeededRandom | null;
  private commitsSincePrune = 0;
  /** While set, the cluster does not answer: transactions wait for it (until their timeout), as FDB's clients do. */
  private unreachable: { until: Promise<void>; end: () => void } | null = null;
  /** A fault armed by {@link SimulatedCluster.failCommit}: commits with writes still to pass, and the error of the next one. */
  private armed: { pass: number; code: number; applied: boolean } | null = null;

  constructor(readonly faults: FaultOptions | null = null) {
    this.random = faults ? new SeededRandom(faults.seed) : null;
    this.version = 1n;
  }

  /**
   * Cuts the cluster off from its clients (`false`: its coordinators do not answer) or brings it
   * back. Transactions started meanwhile wait, and fail with 1031 transaction_timed_out if they have
   * a timeout that passes first.
   */
  setReachable(reachable: boolean): void {
    if (!reachable && !this.unreachable) {
      let end!: () => void;
      const until = new Promise<void>((resolve) => (end = resolve));
      this.unreachable = { until, end };
    } else if (reachable && this.unreachable) {
      this.unreachable.end();
      this.unreachable = null;
    }
  }

  /**
   * Fails one commit on cue, for tests of what a caller does when a later transaction of several
   * fails: after `pass` more commits with writes succeed, the next one fails with `code` and applies
   * nothing (default 1031 transaction_timed_out, which the retry loop does not retry). With
   * `applied`, the failing commit applies its writes all the same, as a 1021 commit_unknown_result
   * that did commit.
   *
   * @example
   * ```ts
   * cluster.failCommit(1); // the first commit goes through, the second fails
   * cluster.failCommit(0, 1021, { applied: true }); // the next commit applies, and its client hears 1021
   * ```
   */
  failCommit(pass: number, code: number = 1031, { applied = false }: { applied?: boolean } = {}): void {
    this.armed = { pass, code, applied };
  }

  /** Resolves once the cluster answers; false if `deadline` (ms since the epoch) passes first. */
  async reachableBy(deadline: number): Promise<boolean> {
    if (!this.unreachable) return true;
    if (!Number.isFinite(deadline)) return this.unreachable.until.then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
    try {
      return await Promise.race([this.unreachable.until.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A client of this cluster, with its own retry loop. */
  open(): SimulatedDatabase {
    return new SimulatedDatabase(this);
  }

  /**
   * The version a transaction starting now reads at. Like FDB's, it advances with time (about a
   * million a second) even when nothing commits, so versions can serve as the cluster's clock.
   */
  readVersion(): bigint {
    const wall = this.wallVersion();
    const version = wall > this.version ? wall : this.version;
    if (version > this.handedOut) this.handedOut = version;
    return version;
  }

  private wallVersion(): bigint {
    return BigInt(Date.now() - this.started) * VERSIONS_PER_MS;
  }

  /**
   * Commits a transaction, or throws: 1020 when a key range it read was written by a commit after
   * its read version, 1007 when its read version is too old, 1021 when a fault is injected.
   */
  commit(request: CommitRequest): bigint {
    const conflicts = this.conflicts(request);
    if (conflicts) {
      this.stats.conflicts += 1;
      throw new FdbError(1020, 'not_committed: a key this transaction read was written by another commit');
    }
    if (this.armed && request.writes.length > 0) {
      const armed = this.armed;
      if (armed.pass-- <= 0) {
        this.armed = null;
        if (armed.applied) this.apply(request);
        throw new FdbError(armed.code, `injected fault (${armed.code})`);
      }
    }
    if (this.random && request.writes.length > 0) {
      if (this.random.chance(this.faults!.conflictRate ?? 0)) {
        this.stats.injectedConflicts += 1;
        throw new FdbError(1020, 'not_committed (injected)');
      }
      if (this.random.chance(this.faults!.unknownResultRate ?? 0)) {
        this.stats.unknownResults += 1;
        if (this.random.chance(0.5)) {
          this.stats.unknownResultsApplied += 1;
          this.apply(request);
        }
        throw new FdbError(1021, 'commit_unknown_result (injected): the commit may or may not have applied');
      }
    }
    return this.apply(request);
  }

  /** Registers a watch made by a committed transaction: it fires when a later commit changes the key. */
  watch(key: string, valueAtCommit: Buffer | undefined): { changed: Promise<boolean>; cancel: () => void } {
    let watcher!: Watcher;
    const changed = new Promise<boolean>((resolve) => (watcher = { key, value: valueAtCommit, resolve }));
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(watcher);
    return {
      changed,
      cancel: () => {
        set!.delete(watcher);
        watcher.resolve(false);
      },
    };
  }

  /** Whether a transaction whose read version was taken at `startedAt` (ms) is past FDB's 5 s window. */
  tooOld(startedAt: number): boolean {
    return Date.now() - startedAt > FDB_LIMITS.transactionLifetimeMs;
  }

  private conflicts(request: CommitRequest): boolean {
    if (request.reads.length === 0) return false;
    for (let i = this.log.length - 1; i >= 0; i -= 1) {
      const record = this.log[i]!;
      if (record.version <= request.readVersion) break;
      for (const [rb, re] of request.reads) {
        for (const [wb, we] of record.writes) if (rb < we && wb < re) return true;
      }
    }
    return false;
  }

  private apply(request: CommitRequest): bigint {
    // A commit's version is above every read version handed out, so no reader sees it by mistake.
    const floor = (this.version > this.handedOut ? this.version : this.handedOut) + 1n;
    const wall = this.wallVersion();
    this.version = wall > floor ? wall : floor;
    const version = this.version;
    const stamp = versionstamp(version);
    const touched = new Set<string>();
    for (const op of request.writes) {
      switch (op.kind) {
        case 'set':
          this.put(op.key, op.value, version, touched);
          break;
        case 'clear':
          this.put(op.key, null, version, touched);
          break;
        case 'clearRange':
          for (const key of this.store.keysIn(op.key, op.end)) this.put(key, null, version, touched);
          break;
        case 'add':
        case 'max':
          this.put(op.key, applyAtomic(op.kind, this.store.latest(op.key), op.value), version, touched);
          break;
        case 'versionstampedKey': {
          const key = Buffer.from(op.key, 'latin1');
          stamp.copy(key, op.offset);
          this.put(key.toString('latin1'), op.value, version, touched);
          break;
        }
        case 'versionstampedValue': {
          const value = Buffer.from(op.value);
          stamp.copy(value, op.offset);
          this.put(op.key, value, version, touched);
          break;
        }
      }
    }
    this.log.push({ version, writes: request.conflictWrites });
    this.stats.committed += 1;
    this.forget(version);
    for (const key of touched) this.fireWatches(key);
    request.committed(version, stamp);
    return version;
  }

  private put(key: string, value: Buffer | null, version: bigint, touched: Set<string>): void {
    this.store.write(key, value, version);
    touched.add(key);
    if (value) {
      this.stats.keysWritten += 1;
      this.stats.bytesWritten += key.length + value.length;
    }
  }

  private fireWatches(key: string): void {
    const set = this.watchers.get(key);
    if (!set) return;
    const now = this.store.latest(key);
    for (const watcher of [...set]) {
      if (sameValue(watcher.value, now)) continue;
      set.delete(watcher);
      watcher.resolve(true);
    }
    if (set.size === 0) this.watchers.delete(key);
  }

  /** Drops commit records and versions older than any transaction can still read at. */
  private forget(version: bigint): void {
    const oldest = version - BigInt(FDB_LIMITS.transactionLifetimeMs + 1_000) * VERSIONS_PER_MS;
    let drop = 0;
    while (drop < this.log.length && this.log[drop]!.version < oldest) drop += 1;
    if (drop) this.log.splice(0, drop);
    if ((this.commitsSincePrune += 1) >= 1_000) {
      this.commitsSincePrune = 0;
      this.store.prune(oldest);
    }
  }
}

/**
 * One client of a {@link SimulatedCluster}. `kill()` is a process dying: its transactions in
 * flight never commit, and nothing of them applies.
 *
 * @example
 * ```ts
 * const db = new SimulatedCluster().open();
 * const backend = FdbBackend.onDatabase(db);
 * ```
 */
export class SimulatedDatabase implements KvDatabase {
  readonly kind = 'simulator' as const;
  readonly crossProcess = false;
  private killed = false;
  /** Commits and retries by this client, for the figures. */
  readonly counts = { transactions: 0, commits: 0, retries: 0 };

  constructor(readonly cluster: SimulatedCluster) {}

  /** A transaction outside the retry loop, for tests of single commits. */
  createTransaction(): SimulatedTransaction {
    return new SimulatedTransaction(this.cluster, () => this.killed);
  }

  async transact<T>(fn: (tr: KvTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const limit = options.retryLimit ?? 100;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      if (!(await this.cluster.reachableBy(deadline))) throw new FdbError(1031, 'transaction_timed_out: the cluster did not answer before the transaction\'s timeout');
      const tr = this.createTransaction();
      this.counts.transactions += 1;
      try {
        const result = await fn(tr);
        if (await tr.commit()) this.counts.commits += 1;
        return result;
      } catch (err) {
        tr.abandon(err);
        if (!(err instanceof FdbError) || !isRetryable(err.code) || attempt >= limit || this.killed) throw err;
        this.counts.retries += 1;
        // FDB's onError backs off before the next try.
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** Math.min(attempt, 6)) * Math.random()));
      }
    }
  }

  /** The process dies: every transaction of this client in flight fails and applies nothing. */
  kill(): void {
    this.killed = true;
  }

  async close(): Promise<void> {
    this.killed = true;
  }
}

/** The 10-byte versionstamp of a commit: its version (8 bytes, big-endian) and its order in the batch (2). */
function versionstamp(version: bigint): Buffer {
  const stamp = Buffer.alloc(10);
  stamp.writeBigUInt64BE(version, 0);
  return stamp;
}

function sameValue(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
