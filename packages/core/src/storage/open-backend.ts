import { SkqError } from '../errors.js';
import { backendScheme, schemeLoader, schemePackage, type BackendModule } from './backend-schemes.js';
import type { StorageBackend } from './storage-backend.js';

/**
 * Opens a backend of its own for `url`, not shared with the queues and pools of this process (see
 * {@link acquireBackend}); the caller closes it. A tool that observes a store beside an application, such
 * as a checker, reads through its own connection so that one failing client does not blind it.
 *
 * @example
 * ```ts
 * const backend = await openBackend('redis://127.0.0.1:6379');
 * console.log(await backend.countByState('mail'));
 * await backend.close();
 * ```
 */
export async function openBackend(url: string): Promise<StorageBackend> {
  const scheme = backendScheme(url);
  const load = schemeLoader(scheme);
  let mod: BackendModule;
  try {
    mod = await load();
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `backend "${scheme}" needs the package ${schemePackage(scheme) ?? '(none)'}: install it (${(cause as Error).message})`, {
      cause,
      context: { field: 'backend' },
    });
  }
  return mod.openStorage(url);
}
