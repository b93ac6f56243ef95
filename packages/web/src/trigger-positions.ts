import { SkqError } from '@skq/core';
import type { TriggerPositionView } from './pages/simple-pages.js';

/** The stored positions of MongoDB trigger runners, read through `@skq/mongodb` (loaded only for this page). */
export async function readTriggerPositions(url: string): Promise<TriggerPositionView[]> {
  let mongodb: typeof import('@skq/mongodb');
  try {
    mongodb = await import('@skq/mongodb');
  } catch (cause) {
    throw new SkqError('UNSUPPORTED', 'the trigger page needs the @skq/mongodb package: npm install @skq/mongodb mongodb', { cause });
  }
  return mongodb.TriggerRunner.positions(url);
}
