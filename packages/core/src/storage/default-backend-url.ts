import { SkqError } from '../errors.js';
import { backendScheme } from './backend-schemes.js';

/**
 * The URL a queue uses when none is given and `SKQ_BACKEND` is unset.
 *
 * @example
 * ```ts
 * const queue = new SkunkQueue('demo', { backend: process.env.JOBS_URL ?? DEFAULT_BACKEND_URL });
 * ```
 */
export const DEFAULT_BACKEND_URL = 'sqlite:.skunq/skunq.db';

/**
 * The backend URL when none is given: `$SKQ_BACKEND`, else {@link DEFAULT_BACKEND_URL}. A variable
 * that is set but empty or not a URL is a configuration error, not a reason to fall back.
 *
 * @example
 * ```ts
 * const url = backendUrlFromEnvironment(); // 'sqlite:.skunq/skunq.db' unless SKQ_BACKEND is set
 * ```
 */
export function backendUrlFromEnvironment(): string {
  const url = process.env.SKQ_BACKEND;
  if (url === undefined) return DEFAULT_BACKEND_URL;
  if (url.trim() === '') {
    throw new SkqError('CONFIG_INVALID', 'SKQ_BACKEND is set but empty: unset it for the SQLite default, or give a URL such as redis://127.0.0.1:6379', {
      context: { field: 'SKQ_BACKEND' },
    });
  }
  backendScheme(url);
  return url;
}
