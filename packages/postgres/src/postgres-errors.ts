import { SkqError, type SkqErrorContext } from '@skq/core';
import { redactUrl } from '@skq/core/backend';

/** Node's socket errors, and SQLSTATE classes and codes that mean the server could not be reached or went away. */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ECONNABORTED', 'EAI_AGAIN',
  // Administrator shutdown, crash shutdown, cannot connect now, idle-session timeouts, too many connections, a read-only standby after a failover.
  '57P01', '57P02', '57P03', '57P05', '25P03', '53300', '53400', '25006',
]);

/**
 * The one place node-postgres errors become {@link SkqError}s: an unreachable or restarting server
 * (a refused or dropped connection, an administrator shutdown, too many connections, a connection
 * class 08 error) is `BACKEND_UNAVAILABLE`; anything else `BACKEND_ERROR`, with the SQLSTATE in context.
 *
 * @example
 * ```ts
 * throw mapPostgresError(err, 'claim', { queue: 'demo' });
 * ```
 */
export function mapPostgresError(err: unknown, operation: string, context: SkqErrorContext = {}): SkqError {
  if (err instanceof SkqError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const text = redactUrl(String((err as Error)?.message ?? err));
  const message = `postgres ${operation} failed: ${text}`;
  const withCode = code ? { ...context, sqlState: code } : context;
  if (UNREACHABLE.has(code) || code.startsWith('08') || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Cannot use a pool after calling end/i.test(text)) {
    return new SkqError('BACKEND_UNAVAILABLE', message, { cause: err, context: withCode });
  }
  return new SkqError('BACKEND_ERROR', message, { cause: err, context: withCode });
}
