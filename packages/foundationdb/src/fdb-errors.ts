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

/** A call on a closed backend: BACKEND_UNAVAILABLE, as on the other backends. */
export function closedError(operation: string, queue: string): SkqError {
  return new SkqError('BACKEND_UNAVAILABLE', `foundationdb ${operation}: the backend is closed`, { context: { queue, operation } });
}

/**
 * The first transaction of a new connection failed: BACKEND_UNAVAILABLE naming the cluster file and
 * its coordinators, saying whether the cluster did not answer in time (1031) or could not be reached.
 */
export function clusterUnreachableError(cause: unknown, clusterFile: string, coordinators: string, timeoutMs: number): SkqError {
  const code = cause instanceof FdbError ? cause.code : (cause as { code?: unknown })?.code;
  const why = code === 1031 ? `did not answer within ${timeoutMs} ms` : `could not be reached (${(cause as Error)?.message ?? String(cause)})`;
  return new SkqError('BACKEND_UNAVAILABLE', `the FoundationDB cluster in ${clusterFile} ${why}: is fdbserver running, and can this machine reach its coordinators (${coordinators})?`, {
    cause,
    context: { field: 'clusterFile', reason: 'cluster-unreachable', clusterFile, timeoutMs },
  });
}
