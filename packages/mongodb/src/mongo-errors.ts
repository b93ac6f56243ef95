import { SkqError, type SkqErrorContext } from '@skq/core';

const UNAVAILABLE_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClosedError',
  'MongoPoolClearedError',
]);
/** Server codes of a node that cannot serve right now (step-down, shutdown, not primary). */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 10107, 11600, 11602, 13435, 13436]);

/** Errors the driver raises for a URL or option it refuses, before any server is asked. */
const CONFIG_NAMES = new Set(['MongoParseError', 'MongoInvalidArgumentError', 'MongoMissingCredentialsError', 'MongoAPIError']);

/** The one place driver and server errors become {@link SkqError}s. */
export function mapMongoError(err: unknown, operation: string, context: SkqErrorContext = {}): SkqError {
  if (err instanceof SkqError) return err;
  const e = err as { name?: string; code?: number; message?: string; hasErrorLabel?: (label: string) => boolean };
  const message = e?.message ?? String(err);
  if (CONFIG_NAMES.has(e?.name ?? '')) {
    return new SkqError('CONFIG_INVALID', `mongodb ${operation}: invalid URL or option: ${message}`, { cause: err, context: { field: 'backend', ...context } });
  }
  const unavailable =
    UNAVAILABLE_NAMES.has(e?.name ?? '') ||
    (typeof e?.code === 'number' && UNAVAILABLE_CODES.has(e.code)) ||
    e?.hasErrorLabel?.('RetryableWriteError') === true ||
    /ECONNREFUSED|ECONNRESET|EPIPE|client was closed|Topology is closed|connection \S* ?to \S+ closed|connection closed|socket hang up/i.test(message);
  return new SkqError(unavailable ? 'BACKEND_UNAVAILABLE' : 'BACKEND_ERROR', `mongodb ${operation} failed: ${message}`, { cause: err, context });
}

/** Whether a driver error is a duplicate-key error (code 11000) — also inside a bulk write. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] | { code?: number } };
  if (e?.code === 11000) return true;
  const writeErrors = Array.isArray(e?.writeErrors) ? e.writeErrors : e?.writeErrors ? [e.writeErrors] : [];
  return writeErrors.length > 0 && writeErrors.every((w) => w.code === 11000);
}
