import { SkqError } from '@skq/core';
import { toFdbError } from '../fdb-errors.js';
import { probeCluster, resolveClusterFile } from './cluster-checks.js';
import type { KeySelector, KvDatabase, KvReads, KvTransaction, KvWatch, RangeOptions, TransactionOptions } from './port.js';

/**
 * The port on a real cluster, through the `foundationdb` npm binding (an optional peer dependency,
 * loaded on first use). Only the binding's raw, byte-level calls are used. This adapter has never
 * run against a live cluster on skunq's CI (no `fdbserver` can be installed there): see the README.
 */

/** The parts of the `foundationdb` package this adapter calls, typed here so no driver type leaks out. */
interface Binding {
  setAPIVersion(version: number): void;
  open(clusterFile?: string): BindingDatabase;
  keySelector(key: Buffer, orEqual: boolean, offset: number): unknown;
}
interface BindingDatabase {
  doTransaction<T>(body: (tn: BindingTransaction) => Promise<T>, opts?: { retry_limit?: number; timeout?: number }): Promise<T>;
  close(): void;
}
interface BindingTransaction {
  get(key: Buffer): Promise<Buffer | undefined>;
  getRangeAll(start: Buffer, end: Buffer, opts?: { limit?: number; reverse?: boolean }): Promise<[Buffer, Buffer][]>;
  getKey(selector: unknown): Promise<Buffer | undefined>;
  snapshot(): BindingTransaction;
  getReadVersion(): Promise<Buffer>;
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  clearRange(start: Buffer, end: Buffer): void;
  add(key: Buffer, oper: Buffer): void;
  max(key: Buffer, oper: Buffer): void;
  setVersionstampedKeyRaw(keyBytes: Buffer, value: Buffer): void;
  setVersionstampedValueRaw(key: Buffer, value: Buffer): void;
  addReadConflictKey(key: Buffer): void;
  watch(key: Buffer): { promise: Promise<boolean>; cancel(): void };
  getVersionstamp(): { promise: Promise<Buffer> };
}

/** Where FoundationDB's client library comes from, named when it is missing or too old. */
const CLIENT_SOURCE = 'install the foundationdb-clients package, 7.2 or newer, from https://github.com/apple/foundationdb/releases';

/**
 * Loads the binding. Each way it fails has its own message and `context.reason`: the npm package is
 * not installed (`package-missing`), or it is but FoundationDB's client library, libfdb_c, is missing
 * or cannot be loaded (`client-library`).
 */
export async function loadBinding(importer: () => Promise<unknown> = () => import('foundationdb' as string)): Promise<Binding> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const message = (cause as Error).message ?? String(cause);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /foundationdb/.test(message) && !/libfdb_c/.test(message)) {
      throw new SkqError('CONFIG_INVALID', 'fdb: URLs need the foundationdb npm package, which is not installed here: npm install foundationdb', { cause, context: { field: 'backend', reason: 'package-missing' } });
    }
    throw new SkqError('CONFIG_INVALID', `the foundationdb package is installed, but FoundationDB's client library (libfdb_c) could not be loaded: ${CLIENT_SOURCE} (${message.split('\n')[0]})`, {
      cause,
      context: { field: 'backend', reason: 'client-library' },
    });
  }
  return ((mod as { default?: Binding }).default ?? mod) as Binding;
}

/**
 * Opens a cluster through the binding: the cluster file first (`cluster-file-missing`), then the
 * binding and its client library (which must support `apiVersion`: else `client-library`, too old),
 * then one read that the cluster answers in time (`cluster-unreachable`).
 */
export async function openFoundationDb(options: { clusterFile?: string | undefined; apiVersion: number; connectTimeoutMs?: number }, importer?: () => Promise<unknown>): Promise<KvDatabase> {
  const clusterFile = resolveClusterFile(options.clusterFile);
  const fdb = await loadBinding(importer);
  try {
    fdb.setAPIVersion(options.apiVersion);
  } catch (cause) {
    // Selecting the API version twice (another opener in this process) is harmless when it matches.
    if (!/already|set/i.test((cause as Error).message ?? '')) {
      throw new SkqError('CONFIG_INVALID', `FoundationDB's client library (libfdb_c) is too old for API version ${options.apiVersion}: ${CLIENT_SOURCE} (${(cause as Error).message})`, {
        cause,
        context: { field: 'apiVersion', reason: 'client-library' },
      });
    }
  }
  const db = new BindingKvDatabase(fdb, fdb.open(clusterFile));
  try {
    await probeCluster(db, clusterFile, options.connectTimeoutMs);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

class BindingKvDatabase implements KvDatabase {
  readonly kind = 'foundationdb' as const;
  readonly crossProcess = true;

  constructor(
    private readonly fdb: Binding,
    private readonly db: BindingDatabase,
  ) {}

  async transact<T>(fn: (tr: KvTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    try {
      // The binding's doTransaction is FDB's retry loop: on_error decides what is retried.
      return await this.db.doTransaction((tn) => fn(new BindingKvTransaction(this.fdb, tn)), { retry_limit: options.retryLimit ?? 100, ...(options.timeoutMs !== undefined && { timeout: options.timeoutMs }) });
    } catch (err) {
      throw toFdbError(err);
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

class BindingReads implements KvReads {
  constructor(
    protected readonly fdb: Binding,
    protected readonly tn: BindingTransaction,
  ) {}

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.tn.get(key);
  }

  getRange(begin: Buffer, end: Buffer, options: RangeOptions = {}): Promise<[Buffer, Buffer][]> {
    return this.tn.getRangeAll(begin, end, { ...(options.limit !== undefined && { limit: options.limit }), ...(options.reverse && { reverse: true }) });
  }

  async getKey(selector: KeySelector): Promise<Buffer> {
    return (await this.tn.getKey(this.fdb.keySelector(selector.key, selector.orEqual, selector.offset))) ?? Buffer.from([0xff]);
  }
}

class BindingKvTransaction extends BindingReads implements KvTransaction {
  readonly snapshot: KvReads;

  constructor(fdb: Binding, tn: BindingTransaction) {
    super(fdb, tn);
    this.snapshot = new BindingReads(fdb, tn.snapshot());
  }

  async getReadVersion(): Promise<bigint> {
    const version = await this.tn.getReadVersion();
    // The binding returns the int64 version as 8 big-endian bytes.
    return Buffer.isBuffer(version) ? version.readBigInt64BE(0) : BigInt(version as unknown as number);
  }

  set(key: Buffer, value: Buffer): void {
    this.tn.set(key, value);
  }

  clear(key: Buffer): void {
    this.tn.clear(key);
  }

  clearRange(begin: Buffer, end: Buffer): void {
    this.tn.clearRange(begin, end);
  }

  add(key: Buffer, delta: number | bigint): void {
    const operand = Buffer.alloc(8);
    operand.writeBigInt64LE(BigInt(delta));
    this.tn.add(key, operand);
  }

  max(key: Buffer, value: Buffer): void {
    this.tn.max(key, value);
  }

  setVersionstampedKey(keyTemplate: Buffer, offset: number, value: Buffer): void {
    // API 520+: the versionstamp's offset follows the key as 4 little-endian bytes.
    this.tn.setVersionstampedKeyRaw(Buffer.concat([keyTemplate, u32le(offset)]), value);
  }

  setVersionstampedValue(key: Buffer, valueTemplate: Buffer, offset: number): void {
    this.tn.setVersionstampedValueRaw(key, Buffer.concat([valueTemplate, u32le(offset)]));
  }

  addReadConflictKey(key: Buffer): void {
    this.tn.addReadConflictKey(key);
  }

  watch(key: Buffer): KvWatch {
    const w = this.tn.watch(key);
    return { changed: w.promise, cancel: () => w.cancel() };
  }

  getVersionstamp(): Promise<Buffer> {
    return this.tn.getVersionstamp().promise;
  }
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
