import type { StorageBackend } from '@skq/core/backend';
import { MongoBackend } from './mongo-backend.js';

export { MongoBackend } from './mongo-backend.js';
export { MongoOptionsSchema, WakeupModeSchema, parseMongoUrl, type MongoOptions, type WakeupMode } from './mongo-options.js';
export type { WakeupSource } from './event-feed.js';
export { CappedQueue, CappedQueueOptionsSchema, type CappedJob, type CappedQueueOptions } from './capped-queue.js';
export { EventPredicate, any, anyOf, exists, insert, remove, remove as delete, update, type ChangeKind, type DatabaseChange, type FieldExists, type PredicateOptions, type TriggerFilter } from './triggers/event-predicates.js';
export { defineTrigger, onEvent, registeredTriggers, type OnEventOptions, type Trigger, type TriggerHandler, type TriggerJob } from './triggers/trigger-registry.js';
export { TriggerRunner, TriggerRunnerOptionsSchema, type TriggerPosition, type TriggerRunnerOptions, type TriggerStats } from './triggers/trigger-runner.js';

/**
 * Opens a `mongodb://` or `mongodb+srv://` URL; this is how `new SkunkQueue(name, { backend: 'mongodb://…' })` finds this package.
 *
 * @example
 * ```ts
 * const backend = await openStorage('mongodb://127.0.0.1:27017/jobs?replicaSet=rs0');
 * ```
 */
export async function openStorage(url: string): Promise<StorageBackend> {
  return MongoBackend.connect(url);
}
