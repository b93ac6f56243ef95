import { z } from 'zod';
import { SkqError, type JobDefinition } from '@skq/core';
import { parseConfig } from '@skq/core/backend';
import { EventPredicate, type DatabaseChange } from './event-predicates.js';

/** An inline handler: gets the document and the change, or the `fields` you named, in order. */
export type TriggerHandler = (...args: any[]) => unknown;

/** Fire a job instead of running code inline: the document (or the named fields) become its arguments. */
export interface TriggerJob {
  job: JobDefinition<any[], unknown>;
  /** Deliver to these routes instead of the job's own. */
  routes?: string[];
}

/** How a trigger calls its handler or job. */
export interface OnEventOptions {
  /** Names the trigger (default: the handler's or job's name); it is part of fired job ids. */
  name?: string;
  /** Pass these fields of the document as arguments; a document missing one fails the call. Default: the whole document. */
  fields?: string[];
}

const OptionsSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'letters, digits and _ . : - only').optional(),
    fields: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** A registered trigger. */
export interface Trigger {
  name: string;
  predicate: EventPredicate;
  action: { kind: 'inline'; handler: TriggerHandler } | { kind: 'job'; job: JobDefinition<any[], unknown>; routes: string[] | null };
  fields: string[] | null;
}

// One list per copy of this package: the CLI loads the package as URLs load their backends, from the
// application's install, so it reads the copy that the application's modules register with.
const triggers: Trigger[] = [];
function registry(): Trigger[] {
  return triggers;
}

/**
 * Defines a trigger without registering it, for a {@link TriggerRunner} given an explicit list.
 *
 * @example
 * ```ts
 * const t = defineTrigger(insert({ _id: 1 }), () => console.log('hello world!'));
 * await TriggerRunner.start('mongodb://127.0.0.1:27017/app?replicaSet=rs0', [t]);
 * ```
 */
export function defineTrigger(predicate: EventPredicate, action: TriggerHandler | TriggerJob, options: OnEventOptions = {}): Trigger {
  if (!(predicate instanceof EventPredicate)) {
    throw new SkqError('CONFIG_INVALID', 'onEvent(predicate, …): the predicate must come from insert(), update(), remove(), any() or anyOf()', { context: { field: 'predicate' } });
  }
  const parsed = parseConfig(OptionsSchema, options, 'trigger options', 'options');
  let resolved: Trigger['action'];
  let defaultName: string;
  if (typeof action === 'function') {
    resolved = { kind: 'inline', handler: action };
    defaultName = action.name || 'trigger';
  } else if (action && typeof action.job?.with === 'function' && typeof action.job.name === 'string') {
    resolved = { kind: 'job', job: action.job, routes: action.routes ?? null };
    defaultName = action.job.name;
  } else {
    throw new SkqError('CONFIG_INVALID', 'onEvent(predicate, action): the action must be a function or { job, routes? }', { context: { field: 'action' } });
  }
  return { name: parsed.name ?? defaultName, predicate, action: resolved, fields: parsed.fields ?? null };
}

/**
 * Registers a trigger: `skunq work` and `skunq triggers` run the triggers
 * the modules they load register.
 *
 * @example
 * ```ts
 * onEvent(insert({ _id: 1 }), () => console.log('hello world!'));
 * onEvent(insert({ _id: 2 }), (a, b) => console.log('foo', a + b), { fields: ['a', 'b'] });
 * onEvent(update({ status: 'paid' }, { collection: 'orders' }), { job: sendReceipt, routes: ['mail'] });
 * ```
 */
export function onEvent(predicate: EventPredicate, action: TriggerHandler | TriggerJob, options: OnEventOptions = {}): Trigger {
  const trigger = defineTrigger(predicate, action, options);
  const taken = new Set(registry().map((t) => t.name));
  if (taken.has(trigger.name)) {
    if (options.name) throw new SkqError('CONFIG_INVALID', `a trigger named "${trigger.name}" is registered already`, { context: { field: 'name' } });
    let n = 2;
    while (taken.has(`${trigger.name}-${n}`)) n += 1;
    trigger.name = `${trigger.name}-${n}`;
  }
  registry().push(trigger);
  return trigger;
}

/**
 * The triggers registered so far, in registration order.
 *
 * @example
 * ```ts
 * await import('./triggers.js');
 * console.log(registeredTriggers().map((t) => `${t.name}: ${t.predicate}`));
 * ```
 */
export function registeredTriggers(): Trigger[] {
  return [...registry()];
}

/** The arguments a trigger's handler or job gets for a change. */
export function triggerArgs(trigger: Trigger, change: DatabaseChange): unknown[] {
  const document = change.document ?? change.documentKey;
  if (!trigger.fields) return trigger.action.kind === 'inline' ? [document, change] : [document];
  const missing = trigger.fields.filter((f) => !(f in document));
  if (missing.length) {
    throw new SkqError('ARGS_INVALID', `trigger ${trigger.name}: the ${change.kind} in ${change.collection} has no field ${missing.map((f) => `"${f}"`).join(', ')}`, {
      context: { field: missing[0]! },
    });
  }
  return trigger.fields.map((f) => document[f]);
}
