import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { argsJson, jsonArgs } from '@skq/core/backend';

/** What jsonArgs threw, as { code, field }, or null. */
function refusal(args: unknown[]): { code: string; field: unknown } | null {
  try {
    jsonArgs(args, 'arguments');
    return null;
  } catch (err) {
    if (!(err instanceof SkqError)) throw err;
    return { code: err.code, field: err.context.field };
  }
}

describe('jsonArgs: arguments as JSON carries them', () => {
  it('gives what a JSON round trip gives for any JSON value, and keeps the text it wrote', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), (args) => {
        const wire = jsonArgs(args, 'arguments');
        const text = JSON.stringify(args);
        expect(wire).toEqual(JSON.parse(text));
        expect(argsJson(wire)).toBe(text);
      }),
    );
  });

  it('gives what a JSON round trip gives for anything it does not refuse', () => {
    fc.assert(
      fc.property(fc.array(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withTypedArray: true, withBoxedValues: true })), (args) => {
        if (refusal(args)) return;
        expect(jsonArgs(args, 'arguments')).toEqual(JSON.parse(JSON.stringify(args)));
      }),
    );
  });

  it('writes null-prototype objects, holes, undefined and -0 as JSON does', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [2] });
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3];
    expect(jsonArgs([bare, sparse, { gone: undefined, kept: [undefined] }, -0], 'arguments')).toEqual([{ a: 1, b: [2] }, [1, null, 3], { kept: [null] }, 0]);
  });

  it('runs each getter, toJSON and proxy trap of the arguments once, wherever they are', () => {
    let getterReads = 0;
    let conversions = 0;
    let trapReads = 0;
    const withGetter = Object.defineProperty({ a: 1 }, 'b', { enumerable: true, get: () => ((getterReads += 1), 2) });
    const indexGetter = Object.defineProperty([0, 0], 1, { enumerable: true, get: () => ((getterReads += 1), 5) });
    const converted = { toJSON: () => ((conversions += 1), 'converted') };
    // The traps that read a proxy's keys and values: no more reads than JSON itself makes.
    const counting = (count: () => void): ProxyHandler<object> =>
      Object.fromEntries((['get', 'ownKeys', 'getOwnPropertyDescriptor', 'has'] as const).map((trap) => [trap, (...a: unknown[]) => (count(), (Reflect[trap] as (...x: unknown[]) => unknown)(...a))]));
    let jsonTraps = 0;
    JSON.stringify(new Proxy({ c: 3 }, counting(() => (jsonTraps += 1))));
    const proxied = new Proxy({ c: 3 }, counting(() => (trapReads += 1)));
    // Each alone among plain values, so that nothing else sends the call the careful way.
    const wire = [[{ deep: [withGetter] }], [1, indexGetter], [[converted]], [{ plain: true }, proxied]].map((args) => jsonArgs(args, 'arguments'));
    expect(wire).toEqual([[{ deep: [{ a: 1, b: 2 }] }], [1, [0, 5]], [['converted']], [{ plain: true }, { c: 3 }]]);
    expect({ getterReads, conversions }).toEqual({ getterReads: 2, conversions: 1 });
    expect(trapReads).toBe(jsonTraps);
  });

  it('runs a toJSON patched onto the prototypes, as JSON does, and refuses a list it turns into something else', () => {
    for (const proto of [Object.prototype, Array.prototype]) {
      let calls = 0;
      Object.defineProperty(proto, 'toJSON', { configurable: true, writable: true, value: () => ((calls += 1), 'patched') });
      try {
        expect(refusal([[1], { a: 1 }])).toEqual({ code: 'ARGS_INVALID', field: 'args' });
      } finally {
        delete (proto as { toJSON?: unknown }).toJSON;
      }
      expect(calls).toBe(1);
    }
  });

  it('refuses what JSON would turn into null or cannot write, naming where, at any depth', () => {
    expect(refusal([{ list: [1, { rate: Number.NaN }] }])).toEqual({ code: 'ARGS_INVALID', field: 'args.0.list.1.rate' });
    expect(refusal([[[Infinity]]])).toEqual({ code: 'ARGS_INVALID', field: 'args.0.0.0' });
    expect(refusal([{ big: 1n }])).toEqual({ code: 'ARGS_INVALID', field: 'args.0.big' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusal([cyclic])).toEqual({ code: 'ARGS_INVALID', field: 'args.0.self' });
  });

  it("refuses what a list's or an object's own toJSON returns that JSON cannot carry, enumerable or not", () => {
    expect(refusal([Object.assign([1], { toJSON: () => 10n })])).toEqual({ code: 'ARGS_INVALID', field: 'args.0' });
    const hidden = Object.defineProperty({ a: 1 }, 'toJSON', { value: () => Number.NaN, enumerable: false });
    expect(refusal([{ inner: hidden }])).toEqual({ code: 'ARGS_INVALID', field: 'args.0.inner' });
    expect(jsonArgs([Object.defineProperty([1], 'toJSON', { value: () => 'one', enumerable: false })], 'arguments')).toEqual(['one']);
  });

  it('carries arguments too big or too deep for the quick check the careful way', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i += 1) deep = [deep];
    const wide = Array.from({ length: 5_000 }, (_, i) => ({ i }));
    expect(jsonArgs([deep, wide], 'arguments')).toEqual(JSON.parse(JSON.stringify([deep, wide])));
    expect(refusal([wide, { late: [Number.NaN] }])).toEqual({ code: 'ARGS_INVALID', field: 'args.1.late.0' });
  });
});
