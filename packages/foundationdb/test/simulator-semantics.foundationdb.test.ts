// The simulator against FoundationDB's documentation. Each case names the section it checks:
//   DG = Developer Guide, https://apple.github.io/foundationdb/developer-guide.html
//   KL = Known Limitations, https://apple.github.io/foundationdb/known-limitations.html
//   EC = Error Codes, https://apple.github.io/foundationdb/api-error-codes.html
//   C  = C API, https://apple.github.io/foundationdb/api-c.html
//   DM = Data Modeling, https://apple.github.io/foundationdb/data-modeling.html
// The simulator is only as good as these cases.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FdbError, KeySelectors, SimulatedCluster, pack, unpack, type SimulatedTransaction } from '@skq/foundationdb/simulator';

const k = (s: string) => Buffer.from(s);
const v = (s: string) => Buffer.from(s);
const text = (b: Buffer | undefined) => b?.toString();
const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return (err as FdbError).code;
  }
  return null;
};

async function setup(pairs: Record<string, string> = {}) {
  const cluster = new SimulatedCluster();
  const db = cluster.open();
  await db.transact(async (tr) => {
    for (const [key, value] of Object.entries(pairs)) tr.set(k(key), v(value));
  });
  return { cluster, db };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the FDB simulator against the documentation', () => {
  it('DG "Transaction basics", MVCC: a transaction reads at its read version, unaffected by later commits', async () => {
    const { db } = await setup({ a: '1' });
    const reader = db.createTransaction();
    expect(text(await reader.get(k('a')))).toBe('1');
    await db.transact(async (tr) => tr.set(k('a'), v('2')));
    expect(text(await reader.get(k('a')))).toBe('1');
    expect(text(await db.transact((tr) => tr.get(k('a'))))).toBe('2');
  });

  it('DG "Conflict ranges": a write to a key read since the read version fails the commit with 1020 not_committed', async () => {
    const { db } = await setup({ a: '1' });
    const t1 = db.createTransaction();
    await t1.get(k('a'));
    t1.set(k('b'), v('x'));
    await db.transact(async (tr) => tr.set(k('a'), v('2')));
    expect(await code(t1.commit())).toBe(1020);
    expect(await db.transact((tr) => tr.get(k('b')))).toBeUndefined();
  });

  it('DG "Snapshot reads": a snapshot read adds no read conflict', async () => {
    const { db } = await setup({ a: '1' });
    const t1 = db.createTransaction();
    await t1.snapshot.get(k('a'));
    t1.set(k('b'), v('x'));
    await db.transact(async (tr) => tr.set(k('a'), v('2')));
    expect(await code(t1.commit())).toBeNull();
  });

  it('DG "Conflict ranges": blind writes do not conflict (the last commit wins), and read-only transactions always commit', async () => {
    const { db } = await setup();
    const [t1, t2] = [db.createTransaction(), db.createTransaction()];
    t1.set(k('a'), v('one'));
    t2.set(k('a'), v('two'));
    expect(await code(t1.commit())).toBeNull();
    expect(await code(t2.commit())).toBeNull();
    expect(text(await db.transact((tr) => tr.get(k('a'))))).toBe('two');
    const reader = db.createTransaction();
    await reader.get(k('a'));
    await db.transact(async (tr) => tr.set(k('a'), v('three')));
    expect(await code(reader.commit())).toBeNull();
  });

  it('DG "Conflict ranges": a range read conflicts with a key inserted inside it, not outside; a limited read only up to its last key', async () => {
    const { db } = await setup({ a1: '', a2: '', a3: '' });
    const inside = db.createTransaction();
    await inside.getRange(k('a'), k('b'));
    inside.set(k('z'), v(''));
    await db.transact(async (tr) => tr.set(k('a25'), v('')));
    expect(await code(inside.commit())).toBe(1020);

    const outside = db.createTransaction();
    await outside.getRange(k('a'), k('b'));
    outside.set(k('z'), v(''));
    await db.transact(async (tr) => tr.set(k('c'), v('')));
    expect(await code(outside.commit())).toBeNull();

    const limited = db.createTransaction();
    expect((await limited.getRange(k('a'), k('b'), { limit: 1 })).map(([key]) => key.toString())).toEqual(['a1']);
    limited.set(k('z'), v(''));
    await db.transact(async (tr) => tr.set(k('a3x'), v('')));
    expect(await code(limited.commit())).toBeNull();
  });

  it('C "fdb_transaction_add_conflict_range": a read conflict key conflicts as a read would, from the read version on', async () => {
    const { db } = await setup();
    const t1 = db.createTransaction();
    // The read version is taken lazily (C "fdb_transaction_get_read_version"): take it before the other commit.
    await t1.getReadVersion();
    t1.addReadConflictKey(k('lock'));
    t1.set(k('b'), v(''));
    await db.transact(async (tr) => tr.set(k('lock'), v('taken')));
    expect(await code(t1.commit())).toBe(1020);
  });

  it('DG "Atomic operations": concurrent adds never conflict and all apply; max keeps the larger; a reader of the key still conflicts', async () => {
    const { db } = await setup();
    const adders = Array.from({ length: 5 }, () => db.createTransaction());
    for (const t of adders) {
      await t.getReadVersion();
      t.add(k('n'), 2);
    }
    for (const t of adders) expect(await code(t.commit())).toBeNull();
    const read = await db.transact((tr) => tr.get(k('n')));
    expect(read!.readBigInt64LE(0)).toBe(10n);
    await db.transact(async (tr) => {
      tr.max(k('m'), Buffer.from([5, 0, 0, 0]));
      tr.max(k('m'), Buffer.from([3, 0, 0, 0]));
    });
    expect([...(await db.transact((tr) => tr.get(k('m'))))!]).toEqual([5, 0, 0, 0]);
    const reader = db.createTransaction();
    await reader.get(k('n'));
    reader.set(k('x'), v(''));
    await db.transact(async (tr) => tr.add(k('n'), 1));
    expect(await code(reader.commit())).toBe(1020);
  });

  it('DG "Read your writes": a transaction sees its own sets, clears, range clears and atomic adds', async () => {
    const { db } = await setup({ a: '1', b: '2', c: '3' });
    await db.transact(async (tr) => {
      tr.set(k('a'), v('new'));
      tr.clear(k('b'));
      tr.add(k('n'), 7);
      expect(text(await tr.get(k('a')))).toBe('new');
      expect(await tr.get(k('b'))).toBeUndefined();
      expect((await tr.get(k('n')))!.readBigInt64LE(0)).toBe(7n);
      tr.clearRange(k('b'), k('d'));
      expect((await tr.getRange(k('a'), k('z'))).map(([key]) => key.toString())).toEqual(['a', 'n']);
    });
  });

  it('DM "Versionstamps" and C "FDB_MUTATION_TYPE_SET_VERSIONSTAMPED_KEY": 10 bytes, growing in commit order, known after commit', async () => {
    const { db } = await setup();
    const stamps: Buffer[] = [];
    for (let i = 0; i < 3; i += 1) {
      const t = db.createTransaction();
      const template = Buffer.concat([k('log/'), Buffer.alloc(10)]);
      t.setVersionstampedKey(template, 4, v(`entry ${i}`));
      const stamp = t.getVersionstamp();
      await t.commit();
      stamps.push(await stamp);
    }
    expect(stamps.every((s) => s.length === 10)).toBe(true);
    expect(stamps[0]!.compare(stamps[1]!)).toBe(-1);
    expect(stamps[1]!.compare(stamps[2]!)).toBe(-1);
    const rows = await db.transact((tr) => tr.getRange(k('log/'), k('log0')));
    expect(rows.map(([, value]) => value.toString())).toEqual(['entry 0', 'entry 1', 'entry 2']);
    expect(rows[2]![0].subarray(4)).toEqual(stamps[2]);
    await db.transact(async (tr) => tr.setVersionstampedValue(k('v'), Buffer.concat([v('at:'), Buffer.alloc(10)]), 3));
    expect((await db.transact((tr) => tr.get(k('v'))))!.subarray(3).compare(stamps[2]!)).toBe(1);
  });

  it('DG "Watches": a watch fires after a commit changes the key, not for the same value; cancel settles it false', async () => {
    const { db } = await setup({ a: '1' });
    const watch = await db.transact(async (tr) => tr.watch(k('a')));
    let fired = false;
    void watch.changed.then(() => (fired = true));
    await db.transact(async (tr) => tr.set(k('a'), v('1')));
    await new Promise((r) => setImmediate(r));
    expect(fired).toBe(false);
    await db.transact(async (tr) => tr.set(k('a'), v('2')));
    expect(await watch.changed).toBe(true);
    const cancelled = await db.transact(async (tr) => tr.watch(k('a')));
    cancelled.cancel();
    expect(await cancelled.changed).toBe(false);
  });

  it('DG "Watches": a watch of a transaction that did not commit fails with its error', async () => {
    const { db } = await setup({ a: '1' });
    const t = db.createTransaction();
    await t.get(k('a'));
    const watch = t.watch(k('a'));
    t.set(k('b'), v(''));
    await db.transact(async (tr) => tr.set(k('a'), v('2')));
    const err = await code(t.commit());
    t.abandon(new FdbError(err!, 'not_committed'));
    expect(await code(watch.changed)).toBe(1020);
  });

  it('KL "Large keys and values" / "Large transactions": 10,000-byte keys, 100,000-byte values, 10 MB transactions', async () => {
    const { db } = await setup();
    const t = db.createTransaction();
    expect(() => t.set(Buffer.alloc(10_001, 1), v(''))).toThrow(expect.objectContaining({ code: 2102 }));
    expect(() => t.set(k('a'), Buffer.alloc(100_001))).toThrow(expect.objectContaining({ code: 2103 }));
    t.set(Buffer.alloc(10_000, 1), Buffer.alloc(100_000));
    const big = db.createTransaction();
    for (let i = 0; i < 101; i += 1) big.set(k(`big${i}`), Buffer.alloc(100_000));
    expect(await code(big.commit())).toBe(2101);
  });

  it('KL "Long-running transactions" and EC 1007: reads and commits fail 5 seconds after the read version', async () => {
    const { db } = await setup({ a: '1' });
    const t = db.createTransaction();
    await t.get(k('a'));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_001);
    expect(await code(t.get(k('a')))).toBe(1007);
    const w = db.createTransaction();
    await w.get(k('a'));
    vi.setSystemTime(Date.now() + 5_001);
    w.set(k('b'), v(''));
    expect(await code(w.commit())).toBe(1007);
  });

  it('DG "Transaction retry loops": retryable errors run the transaction again; others end it at once', async () => {
    const { db } = await setup({ n: '0' });
    let runs = 0;
    const result = await db.transact(async (tr) => {
      runs += 1;
      const n = Number(text(await tr.get(k('n'))));
      if (runs === 1) await db.transact(async (other) => other.set(k('n'), v('10'))); // Conflicts with this read.
      tr.set(k('n'), v(String(n + 1)));
      return n + 1;
    });
    expect(runs).toBe(2);
    expect(result).toBe(11);
    await expect(db.transact(async () => Promise.reject(new Error('mine')))).rejects.toThrow('mine');
    await expect(db.transact(async () => Promise.reject(new FdbError(2103, 'value_too_large')))).rejects.toMatchObject({ code: 2103 });
  });

  it('DG "Transactions with unknown results" (EC 1021): an injected commit_unknown_result applied some commits and not others', async () => {
    const cluster = new SimulatedCluster({ seed: 7, unknownResultRate: 1 });
    const db = cluster.open();
    let thrown = 0;
    for (let i = 0; i < 200; i += 1) {
      const t = db.createTransaction();
      t.set(k(`key${String(i).padStart(3, '0')}`), v('x'));
      if ((await code(t.commit())) === 1021) thrown += 1;
    }
    expect(thrown).toBe(200);
    const applied = (await cluster.open().transact((tr) => tr.getRange(k('key'), k('kez')))).length;
    expect(applied).toBe(cluster.stats.unknownResultsApplied);
    expect(applied).toBeGreaterThan(60);
    expect(applied).toBeLessThan(140);
  });

  it('EC 1020 injected: a seeded rate of spurious conflicts, which the retry loop absorbs', async () => {
    const cluster = new SimulatedCluster({ seed: 11, conflictRate: 0.3 });
    const db = cluster.open();
    for (let i = 0; i < 100; i += 1) await db.transact(async (tr) => tr.add(k('n'), 1));
    expect((await db.transact((tr) => tr.get(k('n'))))!.readBigInt64LE(0)).toBe(100n);
    expect(cluster.stats.injectedConflicts).toBeGreaterThan(10);
    expect(db.counts.retries).toBe(cluster.stats.injectedConflicts);
  });

  it('a process killed in the middle of a transaction applies nothing, and other clients go on', async () => {
    const { cluster } = await setup();
    const doomed = cluster.open();
    const survivor = cluster.open();
    const t: SimulatedTransaction = doomed.createTransaction();
    t.set(k('half'), v('written'));
    t.add(k('n'), 1);
    doomed.kill();
    expect(await code(t.commit())).toBe(1025);
    expect(await survivor.transact((tr) => tr.get(k('half')))).toBeUndefined();
    await survivor.transact(async (tr) => tr.set(k('after'), v('ok')));
    expect(text(await survivor.transact((tr) => tr.get(k('after'))))).toBe('ok');
  });

  it('C "Key selectors": firstGreaterOrEqual, firstGreaterThan, lastLessOrEqual and lastLessThan', async () => {
    const { db } = await setup({ b: '', d: '', f: '' });
    await db.transact(async (tr) => {
      expect((await tr.getKey(KeySelectors.firstGreaterOrEqual(k('d')))).toString()).toBe('d');
      expect((await tr.getKey(KeySelectors.firstGreaterThan(k('d')))).toString()).toBe('f');
      expect((await tr.getKey(KeySelectors.lastLessOrEqual(k('e')))).toString()).toBe('d');
      expect((await tr.getKey(KeySelectors.lastLessThan(k('d')))).toString()).toBe('b');
      expect([...(await tr.getKey(KeySelectors.firstGreaterThan(k('f'))))]).toEqual([0xff]);
    });
  });

  it('DM "Tuple layer": packed keys sort as their parts do, and unpack to them', () => {
    const tuples = [['q', -300], ['q', -2], ['q', 0], ['q', 1], ['q', 255], ['q', 256], ['q', 70_000], ['q\u0000x', 0], ['r', null]] as const;
    const packed = tuples.map((t) => pack([...t]));
    const sorted = [...packed].sort(Buffer.compare);
    expect(sorted).toEqual(packed);
    for (const [i, t] of tuples.entries()) expect(unpack(packed[i]!)).toEqual([...t]);
  });
});
