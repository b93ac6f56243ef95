import { FdbError, type KeySelector, type KvReads, type KvTransaction, type KvWatch, type RangeOptions } from '../kv/port.js';
import { applyAtomic } from './atomic-ops.js';
import type { ClusterPort, WriteOp } from './cluster-port.js';
import { FDB_LIMITS } from './fdb-limits.js';

/**
 * Every read and commit yields to the event loop first, as a network round trip would: without it,
 * one client's transactions would run back to back in microtasks and never interleave with others.
 */
const roundTrip = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The key right after `key` in byte order: the end of the range that holds only `key`. */
const after = (key: string) => `${key}\0`;

/** What this transaction's own writes say about a key: a value, cleared, or nothing (ask the store). */
type Overlay = { kind: 'value'; value: Buffer } | { kind: 'cleared' } | { kind: 'atomic'; ops: { kind: 'add' | 'max'; value: Buffer }[]; base: 'store' | 'cleared' };

/**
 * A simulated FDB transaction (from `db.createTransaction()`, or the one `transact` passes): reads at
 * its read version and sees its own writes; non-snapshot
 * reads record read conflict ranges; writes are buffered and applied at commit, if no commit since
 * the read version wrote a range it read.
 *
 * @example
 * ```ts
 * const tr = db.createTransaction();
 * await tr.get(Buffer.from('a'));
 * tr.set(Buffer.from('b'), Buffer.from('1'));
 * await tr.commit(); // 1020 if another commit wrote 'a' since
 * ```
 */
export class SimulatedTransaction implements KvTransaction {
  readonly snapshot: KvReads;
  private readVersion: bigint | null = null;
  private startedAt = 0;
  private readonly reads: [string, string][] = [];
  private readonly writes: WriteOp[] = [];
  private readonly conflictWrites: [string, string][] = [];
  private readonly overlay = new Map<string, Overlay>();
  private readonly clearedRanges: [string, string][] = [];
  private bytes = 0;
  private readonly watches: { key: string; resolve: (w: KvWatch) => void; cancelled: boolean }[] = [];
  private stampWaiters: { resolve: (stamp: Buffer) => void; reject: (err: unknown) => void }[] = [];
  private done = false;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly killed: () => boolean,
  ) {
    const self = this;
    this.snapshot = {
      get: (key) => self.read(key, false),
      getRange: (begin, end, options) => self.range(begin, end, options ?? {}, false),
      getKey: (selector) => self.resolveKey(selector, false),
    };
  }

  async getReadVersion(): Promise<bigint> {
    return this.version();
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.read(key, true);
  }

  getRange(begin: Buffer, end: Buffer, options: RangeOptions = {}): Promise<[Buffer, Buffer][]> {
    return this.range(begin, end, options, true);
  }

  getKey(selector: KeySelector): Promise<Buffer> {
    return this.resolveKey(selector, true);
  }

  set(key: Buffer, value: Buffer): void {
    const k = this.writable(key, value);
    this.writes.push({ kind: 'set', key: k, value: Buffer.from(value) });
    this.overlay.set(k, { kind: 'value', value: Buffer.from(value) });
    this.conflictWrites.push([k, after(k)]);
  }

  clear(key: Buffer): void {
    const k = this.writable(key);
    this.writes.push({ kind: 'clear', key: k });
    this.overlay.set(k, { kind: 'cleared' });
    this.conflictWrites.push([k, after(k)]);
  }

  clearRange(begin: Buffer, end: Buffer): void {
    this.open();
    const [b, e] = [begin.toString('latin1'), end.toString('latin1')];
    if (b >= e) return;
    this.writes.push({ kind: 'clearRange', key: b, end: e });
    this.clearedRanges.push([b, e]);
    for (const k of [...this.overlay.keys()]) if (k >= b && k < e) this.overlay.set(k, { kind: 'cleared' });
    this.conflictWrites.push([b, e]);
    this.bytes += b.length + e.length;
  }

  add(key: Buffer, delta: number | bigint): void {
    const operand = Buffer.alloc(8);
    operand.writeBigInt64LE(BigInt(delta));
    this.atomicOp('add', key, operand);
  }

  max(key: Buffer, value: Buffer): void {
    this.atomicOp('max', key, value);
  }

  setVersionstampedKey(keyTemplate: Buffer, offset: number, value: Buffer): void {
    if (offset < 0 || offset + 10 > keyTemplate.length) throw new FdbError(2000, 'client_invalid_operation: the versionstamp does not fit in the key');
    const k = this.writable(keyTemplate, value);
    this.writes.push({ kind: 'versionstampedKey', key: k, offset, value: Buffer.from(value) });
    // The key is unknown until commit: FDB adds no write conflict for it.
  }

  setVersionstampedValue(key: Buffer, valueTemplate: Buffer, offset: number): void {
    if (offset < 0 || offset + 10 > valueTemplate.length) throw new FdbError(2000, 'client_invalid_operation: the versionstamp does not fit in the value');
    const k = this.writable(key, valueTemplate);
    this.writes.push({ kind: 'versionstampedValue', key: k, offset, value: Buffer.from(valueTemplate) });
    this.overlay.delete(k);
    this.conflictWrites.push([k, after(k)]);
  }

  addReadConflictKey(key: Buffer): void {
    this.open();
    const k = key.toString('latin1');
    this.reads.push([k, after(k)]);
  }

  watch(key: Buffer): KvWatch {
    this.open();
    const entry = { key: key.toString('latin1'), resolve: (_w: KvWatch) => {}, cancelled: false };
    let cancelInner = () => {};
    const changed = new Promise<KvWatch>((resolve) => (entry.resolve = resolve)).then((w) => {
      cancelInner = () => w.cancel();
      return w.changed;
    });
    this.watches.push(entry);
    return {
      changed,
      cancel: () => {
        entry.cancelled = true;
        cancelInner();
      },
    };
  }

  getVersionstamp(): Promise<Buffer> {
    return new Promise((resolve, reject) => this.stampWaiters.push({ resolve, reject }));
  }

  /** Commits; resolves to whether anything was written. Read-only transactions commit without checks, as in FDB. */
  async commit(): Promise<boolean> {
    this.open();
    await roundTrip();
    this.open();
    if (this.killed()) throw new FdbError(1025, 'transaction_cancelled: the client process died');
    this.done = true;
    if (this.writes.length === 0) {
      this.finish(this.readVersion ?? this.cluster.readVersion(), null);
      return false;
    }
    if (this.readVersion !== null && this.cluster.tooOld(this.startedAt)) throw new FdbError(1007, 'transaction_too_old: the read version is older than 5 seconds');
    if (this.bytes > FDB_LIMITS.transactionBytes) throw new FdbError(2101, `transaction_too_large: ${this.bytes} bytes, more than 10,000,000`);
    // A transaction that read nothing gets its read version at commit (no conflicts are possible).
    const readVersion = this.readVersion ?? this.cluster.readVersion();
    this.cluster.commit({
      readVersion,
      reads: this.reads,
      writes: this.writes,
      conflictWrites: this.conflictWrites,
      committed: (version, stamp) => this.finish(version, stamp),
    });
    return true;
  }

  /** A failed try: watches and versionstamps of this try reject. */
  abandon(err: unknown): void {
    this.done = true;
    for (const waiter of this.stampWaiters.splice(0)) waiter.reject(err);
    for (const watch of this.watches.splice(0)) watch.resolve({ changed: Promise.reject(err), cancel() {} });
  }

  private finish(_version: bigint, stamp: Buffer | null): void {
    for (const waiter of this.stampWaiters.splice(0)) {
      if (stamp) waiter.resolve(stamp);
      else waiter.reject(new FdbError(2000, 'client_invalid_operation: a read-only transaction has no versionstamp'));
    }
    for (const watch of this.watches.splice(0)) {
      const registered = this.cluster.watch(watch.key, this.cluster.store.latest(watch.key));
      if (watch.cancelled) registered.cancel();
      watch.resolve(registered);
    }
  }

  private version(): bigint {
    this.open();
    if (this.readVersion === null) {
      this.readVersion = this.cluster.readVersion();
      this.startedAt = Date.now();
    } else if (this.cluster.tooOld(this.startedAt)) {
      throw new FdbError(1007, 'transaction_too_old: the read version is older than 5 seconds');
    }
    return this.readVersion;
  }

  private async read(key: Buffer, conflict: boolean): Promise<Buffer | undefined> {
    await roundTrip();
    const version = this.version();
    const k = key.toString('latin1');
    const own = this.overlay.get(k);
    if (own?.kind === 'value') return Buffer.from(own.value);
    if (own?.kind === 'cleared') return undefined;
    if (conflict) this.reads.push([k, after(k)]);
    const stored = this.inClearedRange(k) ? undefined : this.cluster.store.read(k, version);
    if (own?.kind === 'atomic') return own.ops.reduce<Buffer | undefined>((v, op) => applyAtomic(op.kind, v, op.value), own.base === 'cleared' ? undefined : stored);
    return stored ? Buffer.from(stored) : undefined;
  }

  private async range(begin: Buffer, end: Buffer, options: RangeOptions, conflict: boolean): Promise<[Buffer, Buffer][]> {
    await roundTrip();
    const version = this.version();
    const [b, e] = [begin.toString('latin1'), end.toString('latin1')];
    const limit = options.limit && options.limit > 0 ? options.limit : Number.POSITIVE_INFINITY;
    const reverse = options.reverse === true;
    let ownInRange = 0;
    for (const k of this.overlay.keys()) if (k >= b && k < e) ownInRange += 1;
    const clears = this.clearedRanges.some(([cb, ce]) => cb < e && b < ce);
    // Read enough from the store that the transaction's own clears cannot leave the page short.
    const fetch = clears ? Number.POSITIVE_INFINITY : limit + ownInRange;
    const merged = new Map<string, Buffer>();
    for (const [k, v] of this.cluster.store.range(b, e, version, fetch, reverse)) if (!this.inClearedRange(k)) merged.set(k, v);
    for (const [k, own] of this.overlay) {
      if (k < b || k >= e) continue;
      if (own.kind === 'value') merged.set(k, own.value);
      else if (own.kind === 'cleared') merged.delete(k);
      else {
        const base = own.base === 'cleared' ? undefined : merged.get(k);
        const value = own.ops.reduce<Buffer | undefined>((v, op) => applyAtomic(op.kind, v, op.value), base);
        if (value) merged.set(k, value);
      }
    }
    const keys = [...merged.keys()].sort();
    if (reverse) keys.reverse();
    const out = keys.slice(0, Number.isFinite(limit) ? limit : undefined).map((k) => [Buffer.from(k, 'latin1'), Buffer.from(merged.get(k)!)] as [Buffer, Buffer]);
    if (conflict) {
      // FDB's conflict range covers what was read: up to the last key returned when the limit cut it short.
      const cut = Number.isFinite(limit) && out.length === limit && out.length > 0;
      const last = cut ? out[out.length - 1]![0].toString('latin1') : null;
      this.reads.push(reverse ? [last ?? b, e] : [b, last ? after(last) : e]);
    }
    return out;
  }

  private async resolveKey(selector: KeySelector, conflict: boolean): Promise<Buffer> {
    const k = selector.key.toString('latin1');
    // firstGreaterOrEqual / firstGreaterThan (offset 1), lastLessOrEqual / lastLessThan (offset 0).
    if (selector.offset >= 1) {
      const from = selector.orEqual ? after(k) : k;
      const found = await this.range(Buffer.from(from, 'latin1'), Buffer.from([0xff]), { limit: selector.offset }, conflict);
      return found.length === selector.offset ? found[found.length - 1]![0] : Buffer.from([0xff]);
    }
    const to = selector.orEqual ? after(k) : k;
    const found = await this.range(Buffer.alloc(0), Buffer.from(to, 'latin1'), { limit: 1 - selector.offset, reverse: true }, conflict);
    return found.length === 1 - selector.offset ? found[found.length - 1]![0] : Buffer.alloc(0);
  }

  private atomicOp(kind: 'add' | 'max', key: Buffer, operand: Buffer): void {
    const k = this.writable(key, operand);
    this.writes.push({ kind, key: k, value: operand });
    const own = this.overlay.get(k);
    if (own?.kind === 'value') this.overlay.set(k, { kind: 'value', value: applyAtomic(kind, own.value, operand) });
    else if (own?.kind === 'cleared') this.overlay.set(k, { kind: 'value', value: applyAtomic(kind, undefined, operand) });
    else if (own?.kind === 'atomic') own.ops.push({ kind, value: operand });
    else this.overlay.set(k, { kind: 'atomic', ops: [{ kind, value: operand }], base: this.inClearedRange(k) ? 'cleared' : 'store' });
    // Atomic operations write without reading: no read conflict, only a write conflict.
    this.conflictWrites.push([k, after(k)]);
  }

  private writable(key: Buffer, value?: Buffer): string {
    this.open();
    if (key.length > FDB_LIMITS.keyBytes) throw new FdbError(2102, `key_too_large: ${key.length} bytes, more than 10,000`);
    if (value && value.length > FDB_LIMITS.valueBytes) throw new FdbError(2103, `value_too_large: ${value.length} bytes, more than 100,000`);
    this.bytes += key.length + (value?.length ?? 0);
    return key.toString('latin1');
  }

  private inClearedRange(k: string): boolean {
    return this.clearedRanges.some(([b, e]) => k >= b && k < e);
  }

  private open(): void {
    if (this.done) throw new FdbError(2017, 'used_during_commit: the transaction has already committed or failed');
    if (this.killed()) throw new FdbError(1025, 'transaction_cancelled: the client process died');
  }
}
