import { SkqError, type SkqErrorContext } from '@skq/core';

const UNAVAILABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_IOERR']);

/** The one place SQLite driver errors become {@link SkqError}s. */
export function mapSqliteError(err: unknown, operation: string, context: SkqErrorContext = {}): SkqError {
  if (err instanceof SkqError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const base = code.split('_').slice(0, 2).join('_');
  const message = `sqlite ${operation} failed: ${(err as Error).message ?? String(err)}`;
  if (UNAVAILABLE.has(base) || UNAVAILABLE.has(code) || /database connection is not open/.test(message)) {
    return new SkqError('BACKEND_UNAVAILABLE', message, { cause: err, context });
  }
  return new SkqError('BACKEND_ERROR', message, { cause: err, context });
}
