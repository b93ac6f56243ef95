import { SkqError } from '@skq/core';
import { importBackendPackage } from '@skq/core/backend';
import type { TriggerPositionsProvider } from '@skq/web';
import { escapingLogger } from './terminal-output.js';

/** What the CLI needs of `@skq/mongodb`, loaded only when triggers are in play. */
export interface TriggerRunnerHandle {
  done: Promise<void>;
  stats(): { changes: number; fired: number; failed: number };
  stop(): Promise<void>;
}

type MongodbPackage = typeof import('@skq/mongodb');

/**
 * `@skq/mongodb`, loaded as `mongodb://` URLs load their backend: from the application's install, so
 * that it is the copy the job modules registered their triggers with.
 */
function loadMongodb(): Promise<MongodbPackage> {
  return importBackendPackage<MongodbPackage>('@skq/mongodb');
}

/** How many triggers the loaded modules registered with `onEvent()` of `@skq/mongodb`. */
export async function registeredTriggerCount(): Promise<number> {
  let mongodb: MongodbPackage;
  try {
    mongodb = await loadMongodb();
  } catch {
    // A package that cannot be loaded here was not loaded by the modules either: they registered nothing with it.
    return 0;
  }
  return mongodb.registeredTriggers().length;
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
  let mongodb: MongodbPackage;
  try {
    mongodb = await loadMongodb();
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', 'triggers need the @skq/mongodb package and the mongodb driver: npm install @skq/mongodb mongodb', { cause, context: { field: 'triggers-url' } });
  }
  return mongodb.TriggerRunner.start({ url, logger: escapingLogger, ...(name ? { name } : {}) });
}

/**
 * The monitor's reader of MongoDB's trigger runners, for `skunq web` on a `mongodb://` URL. It loads
 * `@skq/mongodb` when the page is first asked for, so the monitor of another store never does.
 */
export function mongoTriggerPositions(): TriggerPositionsProvider {
  return async (url) => {
    let mongodb: MongodbPackage;
    try {
      mongodb = await loadMongodb();
    } catch (cause) {
      throw new SkqError('UNSUPPORTED', 'the trigger page needs the @skq/mongodb package: npm install @skq/mongodb mongodb', { cause });
    }
    return mongodb.TriggerRunner.positions(url);
  };
}
