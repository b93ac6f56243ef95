import { types } from 'node:util';
import type { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues, describeValue, serializeError } from '../errors.js';

/**
 * Checks a job's arguments and returns them as the worker will receive them.
 *
 * At fire (`atFire`, the default) arguments travel as JSON: trailing `undefined` arguments are
 * dropped (as if not passed), other `undefined` values become `null`, and a Date becomes its ISO
 * string. The job's schema must accept both what was passed and that JSON form, so a schema the
 * worker would refuse (`z.date()` rather than `z.coerce.date()`, say) fails here, at fire, and not
 * on every worker. On the worker (`atFire` false) the stored arguments are parsed by the schema and
 * its output is returned. Throws `ARGS_INVALID` naming the argument.
 *
 * @example
 * ```ts
 * validateArgs('add', [4, 5], z.tuple([z.number(), z.number()])); // [4, 5]
 * validateArgs('when', [new Date(0)], undefined); // ['1970-01-01T00:00:00.000Z']
 * ```
 */
export function validateArgs(jobName: string, args: unknown[], schema: z.ZodType | undefined, atFire = true): unknown[] {
  if (!Array.isArray(args)) throw new SkqError('ARGS_INVALID', `arguments for job "${jobName}" must be an array`, { context: { jobName } });
  if (!atFire) return schema ? (parseArgs(jobName, args, schema, '') as unknown[]) : args;
  const wire = toWire(jobName, args);
  // One parse when the arguments are good; only a refusal parses again, to say whether the
  // arguments themselves are wrong or only the JSON form the worker receives.
  if (schema && !safeParseInput(schema, wire).success) {
    parseArgs(jobName, args, schema, '');
    parseArgs(jobName, wire, schema, ' as the worker receives them (JSON: a Date arrives as an ISO string, so use z.coerce.date(); undefined arrives as null)');
  }
  return wire;
}

function parseArgs(jobName: string, args: unknown[], schema: z.ZodType, how: string): unknown {
  const parsed = safeParseInput(schema, args);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid arguments for job "${jobName}"${how}: ${describeIssues(parsed.error.issues, 'args')}`, {
      cause: parsed.error,
      context: { jobName, field: parsed.error.issues[0]?.path.length ? `args.${parsed.error.issues[0].path.map(String).join('.')}` : 'args' },
    });
  }
  return parsed.data;
}

/** The arguments as JSON carries them to the worker. */
function toWire(jobName: string, args: unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end -= 1;
  return jsonArgs(args.slice(0, end), `arguments for job "${jobName}"`, { jobName });
}

/**
 * `args` as JSON carries them, or `ARGS_INVALID` naming the path (`args.1.rate`) of the first value
 * JSON cannot carry: NaN and ±Infinity (which JSON would turn into null), a BigInt, a cycle, or a
 * getter or `toJSON` that throws (whatever it throws, null included).
 *
 * @example
 * ```ts
 * jsonArgs([{ at: new Date(0) }], 'module task arguments'); // [{ at: '1970-01-01T00:00:00.000Z' }]
 * jsonArgs([{ rate: NaN }], 'module task arguments'); // throws ARGS_INVALID, field 'args.0.rate'
 * ```
 */
export function jsonArgs(args: unknown[], what: string, context: { jobName?: string } = {}): unknown[] {
  // Nothing in plain arguments runs code or is refused: JSON without the walk, which costs several times as much.
  const text = isPlainJson(args) ? JSON.stringify(args) : walkedJson(args, what, context);
  // An array whose own toJSON returns a function or undefined leaves JSON nothing to write.
  if (text === undefined) throw unjsonable(what, context, 'args has no JSON form', 'args');
  const wire = JSON.parse(text) as unknown;
  // A toJSON on the arrays' prototypes (somebody's patch) can make the list itself something else.
  if (!Array.isArray(wire)) throw unjsonable(what, context, `args is written as ${describeValue(wire)}, not a list`, 'args');
  ARGS_TEXT.set(wire, text);
  return wire;
}

/** JSON.stringify through the walk: one pass, the replacer sees every value, so getters and toJSON run once. */
function walkedJson(args: unknown[], what: string, context: { jobName?: string }): string | undefined {
  const walk = new JsonWalk();
  try {
    return JSON.stringify(args, walk.replacer);
  } catch (failure) {
    const found = failure instanceof Refused ? failure.found : walk.whereThrown(failure);
    if (found) throw unjsonable(what, context, `${found.path} ${found.why}`, found.path, found.cause);
    throw unjsonable(what, context, serializeError(failure).message, 'args', failure);
  }
}

function unjsonable(what: string, context: { jobName?: string }, why: string, field: string, cause?: unknown): SkqError {
  return new SkqError('ARGS_INVALID', `${what} cannot be serialized as JSON: ${why}`, { cause, context: { ...context, field } });
}

/** Values {@link isPlainJson} looks at before it leaves a big argument list to the walk. */
const PLAIN_VALUES_CHECKED = 1_000;
/** Nesting {@link isPlainJson} follows (deeper, or a cycle, goes to the walk). */
const PLAIN_DEPTH = 32;

/**
 * Whether JSON.stringify writes `value` as it is, with nothing refused and no code of the caller's run:
 * strings, booleans, null, finite numbers, and arrays (without holes) and plain objects (prototype
 * Object's or none) without an own toJSON, of own data properties holding such values. It reads descriptors,
 * never a getter, so an argument with a getter or a toJSON goes through the walk and they run once.
 * False too past {@link PLAIN_VALUES_CHECKED} values or {@link PLAIN_DEPTH} levels, and whenever a
 * toJSON was patched onto the prototypes (it would run for every array or object).
 */
function isPlainJson(value: unknown): boolean {
  if (Object.hasOwn(Object.prototype, 'toJSON') || Object.hasOwn(Array.prototype, 'toJSON')) return false;
  return isPlainValue(value, { left: PLAIN_VALUES_CHECKED }, 0);
}

function isPlainValue(value: unknown, budget: { left: number }, depth: number): boolean {
  if ((budget.left -= 1) < 0) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  // An own toJSON, enumerable or not, is run by JSON: its result is the walk's to check.
  if (depth >= PLAIN_DEPTH || types.isProxy(value) || Object.hasOwn(value, 'toJSON')) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return false;
    for (let i = 0; i < value.length; i += 1) {
      const d = Object.getOwnPropertyDescriptor(value, i);
      if (!d || !('value' in d) || !isPlainValue(d.value, budget, depth + 1)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (!d || !('value' in d) || !isPlainValue(d.value, budget, depth + 1)) return false;
  }
  return true;
}

/** The JSON text jsonArgs made of each array it returned, so that a store need not write it again. */
const ARGS_TEXT = new WeakMap<unknown[], string>();

/**
 * Arguments as JSON text: the text {@link jsonArgs} already made of them, else written now. For a
 * store that keeps arguments as text.
 *
 * @example
 * ```ts
 * argsJson(jsonArgs([1, 'a'], 'arguments')); // '[1,"a"]', without writing it twice
 * ```
 */
export function argsJson(args: unknown[]): string {
  return ARGS_TEXT.get(args) ?? JSON.stringify(args);
}

interface Unjsonable {
  path: string;
  why: string;
  cause?: unknown;
}

function refusal(parent: Frame | undefined, key: string, why: string): Refused {
  return new Refused({ path: pathOf(parent, key), why });
}

/** Thrown from the replacer to stop JSON.stringify at a value it would refuse or turn into null. */
class Refused {
  constructor(readonly found: Unjsonable) {}
}

/** One object JSON.stringify is inside: where it is (its path is built only if needed) and the last key of it the replacer saw. */
interface Frame {
  holder: object;
  parent: Frame | undefined;
  key: string;
  lastKey: string | undefined;
}

function pathOf(parent: Frame | undefined, key: string): string {
  return parent ? `${pathOf(parent.parent, parent.key)}.${key}` : 'args';
}

/**
 * Follows JSON.stringify's walk through its replacer: the frames are the objects it is inside
 * (JSON refuses cycles, so each is there once), which gives each value's path, tells a cycle
 * before JSON does, and tells where a getter or toJSON threw (the key after the last one seen).
 */
class JsonWalk {
  private readonly frames: Frame[] = [];

  /** JSON.stringify's replacer; JSON passes the object holding `key` as `this`. */
  readonly replacer: (this: object, key: string, value: unknown) => unknown;

  constructor() {
    const frames = this.frames;
    this.replacer = function (this: object, key: string, value: unknown) {
      return visit(frames, this, key, value);
    };
  }

  /**
   * Where JSON.stringify was when `thrown` (not the replacer's) came out of it: reading the key
   * after the last one seen in the innermost unfinished object, or listing an object's keys.
   * Null when the walk cannot say (the stack ran out).
   */
  whereThrown(thrown: unknown): Unjsonable | null {
    if (thrown instanceof RangeError && /call stack/i.test(thrown.message)) return null;
    for (let depth = this.frames.length - 1; depth >= 0; depth -= 1) {
      const frame = this.frames[depth]!;
      let keys: string[];
      try {
        keys = Array.isArray(frame.holder) ? Array.from({ length: frame.holder.length }, (_, i) => String(i)) : Object.keys(frame.holder);
      } catch (cause) {
        return { path: pathOf(frame.parent, frame.key), why: `could not be read: ${describeThrown(cause)}`, cause };
      }
      const next = frame.lastKey === undefined ? 0 : keys.indexOf(frame.lastKey) + 1;
      if (next < keys.length) {
        const key = keys[next]!;
        let getter = false;
        try {
          getter = typeof Object.getOwnPropertyDescriptor(frame.holder, key)?.get === 'function';
        } catch {
          // A Proxy's descriptor trap: say only that reading it threw.
        }
        const what = getter ? 'its getter (or the toJSON() of what it returned) threw' : 'its toJSON() threw';
        return { path: pathOf(frame, key), why: `could not be read: ${what} ${describeThrown(thrown)}`, cause: thrown };
      }
    }
    return null;
  }
}

/** One replacer call: the value's path, a refusal of what JSON cannot carry, and the frames kept. */
function visit(frames: Frame[], holder: object, key: string, value: unknown): unknown {
  // JSON calls the replacer with the object holding `key`: leaving an object's properties
  // (or a sibling's) means returning to that holder's frame.
  let top = frames.length - 1;
  while (top >= 0 && frames[top]!.holder !== holder) top -= 1;
  frames.length = top + 1;
  const parent = top >= 0 ? frames[top] : undefined;
  if (parent) parent.lastKey = key;
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Number) {
      if (!Number.isFinite(value.valueOf())) throw refusal(parent, key, `is ${value.valueOf()}, which JSON would turn into null`);
    } else if (!(value instanceof String) && !(value instanceof Boolean)) {
      for (let i = 0; i <= top; i += 1) if (frames[i]!.holder === value) throw refusal(parent, key, 'refers back to an object that contains it (a cycle)');
      frames.push({ holder: value, parent, key, lastKey: undefined });
    }
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw refusal(parent, key, `is ${value}, which JSON would turn into null`);
  } else if (typeof value === 'bigint') {
    throw refusal(parent, key, 'is a BigInt');
  }
  return value;
}

function describeThrown(thrown: unknown): string {
  return thrown instanceof Error ? serializeError(thrown).message : describeValue(thrown);
}

/**
 * Whether `value` looks like a zod schema.
 *
 * @example
 * ```ts
 * isZodSchema(z.tuple([z.number(), z.number()])); // true
 * isZodSchema({ type: 'tuple' }); // false
 * ```
 */
export function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}
