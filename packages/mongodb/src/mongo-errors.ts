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

/**
 * Server codes of a document over the BSON limit (16 MiB): BSONObjectTooLarge, and an update whose
 * result would be too large.
 */
const TOO_LARGE_CODES = new Set([10334, 17419, 17420]);

/**
 * Driver errors raised before a command was sent: a call that failed so did nothing, and can run
 * again on another client.
 */
const NOT_SENT = new Set(['MongoServerSelectionError', 'MongoTopologyClosedError', 'MongoClientClosedError', 'MongoNotConnectedError']);

/** The one place driver and server errors become {@link SkqError}s. */
export function mapMongoError(err: unknown, operation: string, context: SkqErrorContext = {}): SkqError {
  if (err instanceof SkqError) return err;
  const e = err as { name?: string; code?: number; message?: string; hasErrorLabel?: (label: string) => boolean };
  const message = e?.message ?? String(err);
  // A value over the document limit is the caller's to shrink: the worker records such an outcome as refused, once.
  if (tooLarge(err)) {
    return new SkqError('ARGS_INVALID', `mongodb ${operation}: the document is over MongoDB's 16 MiB limit: ${message}`, { cause: err, context: { ...context, maxBytes: 16 * 1024 * 1024 } });
  }
  if (CONFIG_NAMES.has(e?.name ?? '')) {
    return new SkqError('CONFIG_INVALID', `mongodb ${operation}: invalid URL or option: ${message}`, { cause: err, context: { field: 'backend', ...context } });
  }
  const unavailable =
    UNAVAILABLE_NAMES.has(e?.name ?? '') ||
    (typeof e?.code === 'number' && UNAVAILABLE_CODES.has(e.code)) ||
    e?.hasErrorLabel?.('RetryableWriteError') === true ||
    // FerretDB answers a command it was running as it shut down with its Go context's "context canceled".
    /ECONNREFUSED|ECONNRESET|EPIPE|client was closed|Topology is closed|connection \S* ?to \S+ closed|connection closed|socket hang up|context canceled/i.test(message);
  return new SkqError(unavailable ? 'BACKEND_UNAVAILABLE' : 'BACKEND_ERROR', `mongodb ${operation} failed: ${message}`, { cause: err, context });
}

/** Whether a driver error says the command never reached a server. */
export function neverSent(err: unknown): boolean {
  return NOT_SENT.has(driverErrorOf(err)?.name ?? '');
}

/** Whether a driver error is a failed server selection: no server answered within the timeout. */
export function isSelectionFailure(err: unknown): boolean {
  return driverErrorOf(err)?.name === 'MongoServerSelectionError';
}

/**
 * Whether a driver or server error refuses a document over the BSON size limit: the driver's own
 * check ("Document is larger than the maximum size"), the serializer's buffer (ERR_OUT_OF_RANGE),
 * or the server's codes.
 */
function tooLarge(err: unknown): boolean {
  for (const e of [err, driverErrorOf(err)] as { name?: string; code?: unknown; message?: string }[]) {
    if (typeof e?.code === 'number' && TOO_LARGE_CODES.has(e.code)) return true;
    if (e?.code === 'ERR_OUT_OF_RANGE') return true;
    if (/larger than the maximum size|exceeds the max bson object size|object to insert too large|BSONObjectTooLarge|document is too large/i.test(e?.message ?? '')) return true;
  }
  return false;
}

/** The driver's own error: a bulk write (`insertMany`) wraps the error that stopped it. */
function driverErrorOf(err: unknown): { name?: string; code?: unknown; message?: string } | undefined {
  const wrapped = (err as { name?: string; errorResponse?: unknown })?.errorResponse;
  return (err as { name?: string })?.name === 'MongoBulkWriteError' && wrapped instanceof Error ? wrapped : (err as { name?: string } | undefined);
}

/** Whether a server error says the collection being created exists already (NamespaceExists, 48): another process made it first. */
export function namespaceExists(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 48;
}

/**
 * Runs an upsert, and once more when it failed on a duplicate key: two upserts racing to insert one
 * new id, the loser's insert fails, and its second run updates the winner's document.
 *
 * @example
 * ```ts
 * await upsertRacing(() => turns.updateOne({ _id }, { $set: { grp } }, { upsert: true }));
 * ```
 */
export async function upsertRacing(upsert: () => Promise<unknown>): Promise<void> {
  await upsert().catch((err: unknown) => (isDuplicateKey(err) ? upsert() : Promise.reject(err)));
}

/** Whether a driver error is a duplicate-key error (code 11000) — also inside a bulk write. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] | { code?: number } };
  if (e?.code === 11000) return true;
  const writeErrors = Array.isArray(e?.writeErrors) ? e.writeErrors : e?.writeErrors ? [e.writeErrors] : [];
  return writeErrors.length > 0 && writeErrors.every((w) => w.code === 11000);
}
