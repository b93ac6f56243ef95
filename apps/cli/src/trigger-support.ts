import { SkqError } from '@skq/core';

/** What the CLI needs of `@skq/mongodb`, loaded only when triggers are in play. */
export interface TriggerRunnerHandle {
  done: Promise<void>;
  stats(): { changes: number; fired: number; failed: number };
  stop(): Promise<void>;
}

/** How many triggers the loaded modules registered (the registry lives on globalThis, see @skq/mongodb). */
export function registeredTriggerCount(): number {
  return ((globalThis as Record<symbol, unknown[] | undefined>)[Symbol.for('skq.triggers')] ?? []).length;
}

/** Whether a URL names a MongoDB, the only backend whose writes triggers can follow. */
export function isMongoUrl(url: string): boolean {
  return /^mongodb(\+srv)?:\/\//.test(url);
}

/** Starts the registered triggers on a MongoDB URL. */
export async function startTriggers(url: string, name: string | undefined): Promise<TriggerRunnerHandle> {
  if (!isMongoUrl(url)) {
    throw new SkqError('CONFIG_INVALID', `database-event triggers watch MongoDB: "${url}" is not a mongodb:// URL`, { context: { field: 'triggers-url' } });
  }
  let mongodb: typeof import('@skq/mongodb');
  try {
    mongodb = await import('@skq/mongodb');
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', 'triggers need the @skq/mongodb package and the mongodb driver: npm install @skq/mongodb mongodb', { cause, context: { field: 'triggers-url' } });
  }
  return mongodb.TriggerRunner.start(name ? { url, name } : { url });
}
