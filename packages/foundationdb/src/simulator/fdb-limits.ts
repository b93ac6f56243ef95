/**
 * FDB's documented limits, which the simulator enforces.
 *
 * @example
 * ```ts
 * tr.set(key, Buffer.alloc(FDB_LIMITS.valueBytes)); // the largest value FDB stores
 * ```
 */
export const FDB_LIMITS = {
  keyBytes: 10_000,
  valueBytes: 100_000,
  transactionBytes: 10_000_000,
  /** Reads and commits fail with 1007 transaction_too_old this long after the read version. */
  transactionLifetimeMs: 5_000,
} as const;
