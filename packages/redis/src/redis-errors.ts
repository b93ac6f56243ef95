import { SkqError, type SkqErrorContext } from '@skq/core';

const UNAVAILABLE = [
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND/,
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /enableOfflineQueue/i,
  /max retries per request/i,
  /CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY/,
  /Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/i,
  // Slots moving while a node fails over or restarts: the command never ran.
  /Too many Cluster redirections/i,
  /connect timeout/i,
];

/** The one place ioredis and Redis errors become {@link SkqError}s. */
export function mapRedisError(err: unknown, operation: string, context: SkqErrorContext = {}): SkqError {
  if (err instanceof SkqError) return err;
  const message = (err as Error)?.message ?? String(err);
  const text = `${(err as { code?: string })?.code ?? ''} ${message} ${(err as { name?: string })?.name ?? ''}`;
  const code = UNAVAILABLE.some((pattern) => pattern.test(text)) ? 'BACKEND_UNAVAILABLE' : 'BACKEND_ERROR';
  return new SkqError(code, `redis ${operation} failed: ${message}`, { cause: err, context });
}
