import { SkqError } from '@skq/core';
import { FdbError } from './kv/port.js';

/**
 * Maps what a FoundationDB call threw to a `SkqError`, in one place: skunq's own errors pass
 * through; FDB's limits are the caller's input (`ARGS_INVALID`); errors the retry loop gave up on
 * and a cluster that cannot be reached are `BACKEND_UNAVAILABLE`; the rest `BACKEND_ERROR`.
 */
export function mapFdbError(err: unknown, operation: string, context: { queue?: string } = {}): SkqError {
  if (err instanceof SkqError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'number' ? ((err as { code: number }).code) : null;
  const message = err instanceof Error ? err.message : String(err);
  const ctx = { ...context, operation, ...(code !== null && { fdbCode: code }) };
  if (code === 2101 || code === 2102 || code === 2103) {
    return new SkqError('ARGS_INVALID', `${operation}: FoundationDB refused the write: ${message} (a value is at most 100 KB, a transaction 10 MB)`, { cause: err, context: ctx });
  }
  if (code !== null && [1007, 1009, 1020, 1021, 1025, 1031, 1037, 1038, 1213, 2501].includes(code)) {
    return new SkqError('BACKEND_UNAVAILABLE', `${operation}: FoundationDB did not commit: ${message}`, { cause: err, context: ctx });
  }
  return new SkqError('BACKEND_ERROR', `${operation}: ${message}`, { cause: err, context: ctx });
}

/** The binding's error as the port's, keeping FDB's code. */
export function toFdbError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' && !(err instanceof FdbError) ? new FdbError(code, (err as Error).message) : err;
}
