import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { describeIssues, parseConfig } from '@skq/core/backend';

/** The kinds of write a trigger can react to. Replacements count as updates. */
export type ChangeKind = 'insert' | 'update' | 'delete';

/** A write as triggers see it, normalized from a change stream event. */
export interface DatabaseChange {
  kind: ChangeKind;
  collection: string;
  /** The `_id` of the written document. */
  documentKey: Record<string, unknown>;
  /**
   * The document: as inserted, as it is after an update (null if it is gone by the time the
   * change is read), and for a delete as it was before (only where the server keeps pre-images;
   * otherwise just `{ _id }`).
   */
  document: Record<string, unknown> | null;
}

const EXISTS = Symbol.for('skq.trigger.exists');

/** The value-position matcher `exists()`: the field is present, whatever its value. */
export interface FieldExists {
  readonly [EXISTS]: true;
}

/**
 * Matches a field that is present, whatever its value: `Any()` in value position.
 *
 * @example
 * ```ts
 * onEvent(insert({ foo: exists() }), (doc) => console.log('inserted with foo', doc.foo));
 * ```
 */
export function exists(): FieldExists {
  return { [EXISTS]: true };
}

/** Field name (dotted paths reach into sub-documents) to a value that must be equal, or {@link exists}. */
export type TriggerFilter = Record<string, unknown>;

/** Where a predicate listens: one collection, or (omitted) every collection of the database. */
export interface PredicateOptions {
  collection?: string;
}

const FilterSchema = z.record(z.string().min(1), z.unknown());
const PredicateOptionsSchema = z.object({ collection: z.string().min(1).max(255).regex(/^[^$\0]+$/, 'not a collection name').optional() }).strict();

interface Alternative {
  kinds: ReadonlySet<ChangeKind>;
  filter: TriggerFilter;
  collection: string | null;
}

/**
 * What a trigger fires on: one or more alternatives, each a set of write kinds, a filter on the
 * document and optionally a collection. Combine with {@link EventPredicate.or} or {@link anyOf}.
 *
 * @example
 * ```ts
 * const either = insert({ foo: exists() }).or(insert({ bar: exists() }));
 * ```
 */
export class EventPredicate {
  /** @internal */
  constructor(readonly alternatives: readonly Alternative[]) {}

  /** Fires when this predicate or `other` does. */
  or(other: EventPredicate): EventPredicate {
    if (!(other instanceof EventPredicate)) throw new SkqError('CONFIG_INVALID', 'or() takes a predicate: insert(), update(), remove() or any()', { context: { field: 'predicate' } });
    return new EventPredicate([...this.alternatives, ...other.alternatives]);
  }

  /** Whether a write fires this predicate. */
  matches(change: DatabaseChange): boolean {
    return this.alternatives.some(
      (alt) => alt.kinds.has(change.kind) && (alt.collection === null || alt.collection === change.collection) && matchesFilter(change.document ?? change.documentKey, alt.filter),
    );
  }

  /** The collections it listens on; `null` stands for every collection. */
  get collections(): (string | null)[] {
    return [...new Set(this.alternatives.map((a) => a.collection))];
  }

  /** Whether it needs more of a deleted document than its `_id`. */
  get needsDeletedDocument(): boolean {
    return this.alternatives.some((a) => a.kinds.has('delete') && Object.keys(a.filter).some((k) => k !== '_id'));
  }

  toString(): string {
    return this.alternatives
      .map((a) => `${a.kinds.size === 3 ? 'any' : [...a.kinds].join('|')}(${JSON.stringify(a.filter, (_k, v) => (v?.[EXISTS] ? '<exists>' : v))})${a.collection ? ` on ${a.collection}` : ''}`)
      .join(' or ');
  }
}

function predicate(kinds: ChangeKind[], filter: unknown, options: unknown, label: string): EventPredicate {
  const parsedFilter = FilterSchema.safeParse(filter ?? {});
  if (!parsedFilter.success || Array.isArray(filter)) {
    throw new SkqError('CONFIG_INVALID', `${label}(filter): the filter must be an object of field → value or exists()${parsedFilter.success ? '' : `: ${describeIssues(parsedFilter.error.issues, 'filter')}`}`, {
      context: { field: 'filter' },
    });
  }
  const { collection } = parseConfig(PredicateOptionsSchema, options ?? {}, `${label}(filter, options)`, 'options');
  return new EventPredicate([{ kinds: new Set(kinds), filter: parsedFilter.data, collection: collection ?? null }]);
}

/**
 * Fires on inserts of documents matching `filter`.
 *
 * @example
 * ```ts
 * onEvent(insert({ _id: 1 }), () => console.log('hello world!'));
 * onEvent(insert({ status: 'new' }, { collection: 'orders' }), (order) => ship(order));
 * ```
 */
export function insert(filter: TriggerFilter = {}, options: PredicateOptions = {}): EventPredicate {
  return predicate(['insert'], filter, options, 'insert');
}

/**
 * Fires on updates (and replacements) that leave a document matching `filter`.
 *
 * @example
 * ```ts
 * onEvent(update({ status: 'paid' }, { collection: 'orders' }), (order) => sendReceipt(order));
 * ```
 */
export function update(filter: TriggerFilter = {}, options: PredicateOptions = {}): EventPredicate {
  return predicate(['update'], filter, options, 'update');
}

/**
 * Fires on deletes of documents matching `filter`. Filters on fields other
 * than `_id` need the deleted document, which MongoDB 6+ keeps only for collections with
 * `changeStreamPreAndPostImages` enabled (the trigger runner enables it where it can).
 * Exported as `remove` and as `delete`.
 *
 * @example
 * ```ts
 * onEvent(remove({ _id: 'lock' }, { collection: 'locks' }), () => console.log('lock released'));
 * ```
 */
export function remove(filter: TriggerFilter = {}, options: PredicateOptions = {}): EventPredicate {
  return predicate(['delete'], filter, options, 'delete');
}

/**
 * Fires on every write, or every write matching `filter`.
 *
 * @example
 * ```ts
 * onEvent(any({}, { collection: 'audit' }), (doc, change) => console.log(change.kind, doc));
 * ```
 */
export function any(filter: TriggerFilter = {}, options: PredicateOptions = {}): EventPredicate {
  return predicate(['insert', 'update', 'delete'], filter, options, 'any');
}

/**
 * Fires when any of the predicates does.
 *
 * @example
 * ```ts
 * onEvent(anyOf(insert({ foo: exists() }), remove({ bar: 1 })), (doc) => console.log(doc));
 * ```
 */
export function anyOf(...predicates: EventPredicate[]): EventPredicate {
  if (predicates.length === 0 || !predicates.every((p) => p instanceof EventPredicate)) {
    throw new SkqError('CONFIG_INVALID', 'anyOf() takes one or more predicates: insert(), update(), remove() or any()', { context: { field: 'predicate' } });
  }
  return new EventPredicate(predicates.flatMap((p) => p.alternatives));
}

function matchesFilter(document: Record<string, unknown>, filter: TriggerFilter): boolean {
  for (const [path, expected] of Object.entries(filter)) {
    const actual = valueAt(document, path);
    if ((expected as FieldExists | null)?.[EXISTS]) {
      if (actual === undefined) return false;
    } else if (!sameValue(actual, expected)) {
      return false;
    }
  }
  return true;
}

function valueAt(document: unknown, path: string): unknown {
  let value: unknown = document;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Equality as a user means it: ObjectIds and other BSON values by their `equals`, the rest deeply. */
function sameValue(actual: unknown, expected: unknown): boolean {
  const withEquals = (v: unknown): v is { equals(o: unknown): boolean } => typeof (v as { equals?: unknown })?.equals === 'function';
  if (withEquals(actual) && expected !== null && typeof expected === 'object') return actual.equals(expected);
  if (actual instanceof Date && expected instanceof Date) return actual.getTime() === expected.getTime();
  return isDeepStrictEqual(actual, expected);
}
