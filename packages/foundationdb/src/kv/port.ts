/**
 * The narrow transactional key-value port the FoundationDB backend is written against, in FDB's own
 * terms. Two implementations: the `foundationdb` binding (a real cluster) and the simulator of FDB's
 * client semantics (`@skq/foundationdb/simulator`). Keys and values are bytes.
 */

/** A key selector, as FDB's `getKey` takes it: the first key ≥ or > a key, or the last ≤ or <. */
export interface KeySelector {
  key: Buffer;
  orEqual: boolean;
  offset: number;
}

/**
 * `firstGreaterOrEqual(k)`, `firstGreaterThan(k)`, `lastLessOrEqual(k)`, `lastLessThan(k)`.
 *
 * @example
 * ```ts
 * const next = await tr.getKey(KeySelectors.firstGreaterThan(Buffer.from('a')));
 * ```
 */
export const KeySelectors = {
  firstGreaterOrEqual: (key: Buffer): KeySelector => ({ key, orEqual: false, offset: 1 }),
  firstGreaterThan: (key: Buffer): KeySelector => ({ key, orEqual: true, offset: 1 }),
  lastLessOrEqual: (key: Buffer): KeySelector => ({ key, orEqual: true, offset: 0 }),
  lastLessThan: (key: Buffer): KeySelector => ({ key, orEqual: false, offset: 0 }),
};

/** What `getRange` takes besides its bounds. */
export interface RangeOptions {
  /** At most this many pairs. */
  limit?: number;
  /** From the end of the range backwards. */
  reverse?: boolean;
}

/** The reads of a transaction. A snapshot view has the same reads, adding no read conflicts. */
export interface KvReads {
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Pairs with `begin ≤ key < end`, in key order (or reversed). */
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<[Buffer, Buffer][]>;
  /** The key a selector resolves to (FDB clamps to the key space: an empty buffer or `\xff`). */
  getKey(selector: KeySelector): Promise<Buffer>;
}

/** A transaction: reads at one read version, buffered writes, conflict checked at commit. */
export interface KvTransaction extends KvReads {
  /** The same reads without read conflicts (FDB's snapshot reads). */
  readonly snapshot: KvReads;
  /** The version this transaction reads at; FDB versions advance about a million per second. */
  getReadVersion(): Promise<bigint>;
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  clearRange(begin: Buffer, end: Buffer): void;
  /** Atomic little-endian add of a signed 64-bit integer: never conflicts. */
  add(key: Buffer, delta: number | bigint): void;
  /** Atomic unsigned little-endian max: never conflicts. */
  max(key: Buffer, value: Buffer): void;
  /** Sets a key whose 10 bytes at `offset` become the commit's versionstamp. */
  setVersionstampedKey(keyTemplate: Buffer, offset: number, value: Buffer): void;
  /** Sets a value whose 10 bytes at `offset` become the commit's versionstamp. */
  setVersionstampedValue(key: Buffer, valueTemplate: Buffer, offset: number): void;
  /** Makes the commit conflict with any concurrent write of `key`, as a read of it would. */
  addReadConflictKey(key: Buffer): void;
  /** Resolves after this transaction commits and a later commit changes `key`. */
  watch(key: Buffer): KvWatch;
  /** The commit's versionstamp; resolves after the commit. */
  getVersionstamp(): Promise<Buffer>;
}

/** A watch: fires once after the key changes; `cancel` stops it. */
export interface KvWatch {
  readonly changed: Promise<boolean>;
  cancel(): void;
}

/** Options of one transaction's retry loop. */
export interface TransactionOptions {
  /** Give up after this many retries (FDB's `retry_limit`); default 100. */
  retryLimit?: number;
  /** Give up with 1031 transaction_timed_out after this long, waiting for the cluster included (FDB's `timeout`); default: never. */
  timeoutMs?: number;
}

/** A database: transactions run through FDB's retry loop. */
export interface KvDatabase {
  /** Which implementation this is, for messages and capabilities: `foundationdb` or `simulator`. */
  readonly kind: 'foundationdb' | 'simulator';
  /** Whether other processes can open the same data (a real cluster can; the simulator cannot). */
  readonly crossProcess: boolean;
  /**
   * Runs `fn` in a transaction and commits, retrying on retryable errors (1020 not_committed,
   * 1007 transaction_too_old, 1021 commit_unknown_result…). `fn` may run more than once, and after
   * `commit_unknown_result` an earlier run may have committed: it must be idempotent.
   */
  transact<T>(fn: (tr: KvTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

/**
 * FDB's error codes the backend handles.
 *
 * @example
 * ```ts
 * FDB_ERRORS.commit_unknown_result; // 1021
 * ```
 */
export const FDB_ERRORS = {
  transaction_too_old: 1007,
  future_version: 1009,
  not_committed: 1020,
  commit_unknown_result: 1021,
  transaction_cancelled: 1025,
  transaction_timed_out: 1031,
  process_behind: 1037,
  database_locked: 1038,
  transaction_too_large: 2101,
  key_too_large: 2102,
  value_too_large: 2103,
} as const;

/**
 * An error from FDB (or the simulator), with its numeric code.
 *
 * @example
 * ```ts
 * if (err instanceof FdbError && err.code === FDB_ERRORS.not_committed) console.log('conflict');
 * ```
 */
export class FdbError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${message} (${code})`);
    this.name = 'FdbError';
  }
}

/**
 * Codes FDB's `onError` retries (`fdb_error_predicate(RETRYABLE)`): the retry loop runs the transaction again.
 *
 * @example
 * ```ts
 * isRetryable(1020); // true: not_committed
 * ```
 */
export function isRetryable(code: number): boolean {
  return code === 1007 || code === 1009 || code === 1020 || code === 1021 || code === 1037 || code === 1038 || code === 1213;
}
