// FoundationDB's simulator shared by several processes over loopback. No fdbserver can run here, and
// the simulator (`@skq/foundationdb/simulator`) lives in one process: to SIGKILL workers that share a
// cluster, the cluster runs in its own process (`fdb-simulator-server.ts`) and each worker opens it with
// an `fdb-sim://127.0.0.1:<port>` URL. The protocol is newline-delimited JSON, buffers in base64.
// A client that dies leaves its open transactions uncommitted, as a real FDB client's would be.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { registerBackend } from '@skq/core/backend';
import { FdbBackend, type KeySelector, type KvDatabase, type KvReads, type KvTransaction, type KvWatch, type RangeOptions } from '@skq/foundationdb';
import { FdbError, SimulatedCluster, isRetryable, type FaultOptions, type SimulatedTransaction } from '@skq/foundationdb/simulator';

type Wire = string; // base64
interface Request {
  id: number;
  op: string;
  tx?: number;
  snapshot?: boolean;
  args: unknown[];
}
type Reply = { id: number; value?: unknown; error?: { code: number | null; message: string } };

const b = (buf: Buffer): Wire => buf.toString('base64');
const buf = (wire: unknown): Buffer => Buffer.from(wire as Wire, 'base64');

/** Serves `cluster` on a loopback port until `close()`. */
export async function serveSimulator(cluster: SimulatedCluster, port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => serveClient(cluster, socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function serveClient(cluster: SimulatedCluster, socket: Socket): void {
  const db = cluster.open();
  const transactions = new Map<number, SimulatedTransaction>();
  const watches = new Map<number, KvWatch>();
  const send = (reply: Reply) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  };
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    for (const tr of transactions.values()) tr.abandon(new FdbError(1025, 'client gone'));
    for (const w of watches.values()) w.cancel();
  });
  const lines = createInterface({ input: socket });
  // A client killed mid-request resets its connection: that ends this client, never the server.
  lines.on('error', () => socket.destroy());
  lines.on('line', (line) => {
    const req = JSON.parse(line) as Request;
    const answer = (work: () => Promise<unknown>) =>
      work().then(
        (value) => send({ id: req.id, value }),
        (err: unknown) => send({ id: req.id, error: { code: err instanceof FdbError ? err.code : null, message: err instanceof Error ? err.message : String(err) } }),
      );
    if (req.op === 'begin') {
      transactions.set(req.id, db.createTransaction());
      return send({ id: req.id, value: req.id });
    }
    if (req.op === 'cancelWatch') return watches.get(req.args[0] as number)?.cancel();
    const tr = transactions.get(req.tx!);
    if (!tr) return send({ id: req.id, error: { code: 1025, message: `transaction ${req.tx} is gone` } });
    const reads: KvReads = req.snapshot ? tr.snapshot : tr;
    const [a0, a1, a2] = req.args;
    try {
      switch (req.op) {
        case 'get':
          return void answer(async () => {
            const v = await reads.get(buf(a0));
            return v === undefined ? null : b(v);
          });
        case 'getRange':
          return void answer(async () => (await reads.getRange(buf(a0), buf(a1), a2 as RangeOptions)).map(([k, v]) => [b(k), b(v)]));
        case 'getKey':
          return void answer(async () => b(await reads.getKey({ ...(a0 as KeySelector), key: buf((a0 as { key: Wire }).key) })));
        case 'getReadVersion':
          return void answer(async () => String(await tr.getReadVersion()));
        case 'getVersionstamp':
          return void answer(async () => b(await tr.getVersionstamp()));
        case 'watch': {
          const w = tr.watch(buf(a0));
          watches.set(req.id, w);
          return void answer(async () => {
            try {
              return await w.changed;
            } finally {
              watches.delete(req.id);
            }
          });
        }
        case 'commit':
          return void answer(async () => {
            try {
              return await tr.commit();
            } finally {
              transactions.delete(req.tx!);
            }
          });
        case 'abandon':
          tr.abandon(new FdbError(1025, 'abandoned by the client'));
          transactions.delete(req.tx!);
          return;
        case 'set':
          return tr.set(buf(a0), buf(a1));
        case 'clear':
          return tr.clear(buf(a0));
        case 'clearRange':
          return tr.clearRange(buf(a0), buf(a1));
        case 'add':
          return tr.add(buf(a0), BigInt(a1 as string));
        case 'max':
          return tr.max(buf(a0), buf(a1));
        case 'setVersionstampedKey':
          return tr.setVersionstampedKey(buf(a0), a1 as number, buf(a2));
        case 'setVersionstampedValue':
          return tr.setVersionstampedValue(buf(a0), buf(a1), a2 as number);
        case 'addReadConflictKey':
          return tr.addReadConflictKey(buf(a0));
        default:
          return send({ id: req.id, error: { code: null, message: `unknown operation ${req.op}` } });
      }
    } catch (err) {
      // A write refused at once (a key too large…): the transaction fails at its commit, as FDB's would.
      tr.abandon(err);
    }
  });
}

/** A client of a served simulator: the `KvDatabase` port over one socket, with FDB's retry loop. */
export class RemoteSimulatedDatabase implements KvDatabase {
  readonly kind = 'simulator' as const;
  readonly crossProcess = true;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    const lines = createInterface({ input: socket });
    lines.on('error', () => socket.destroy());
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.error) waiter.reject(reply.error.code === null ? new Error(reply.error.message) : new FdbError(reply.error.code, reply.error.message));
      else waiter.resolve(reply.value);
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.pending.values()) w.reject(new FdbError(1031, 'the simulator went away'));
      this.pending.clear();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RemoteSimulatedDatabase> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.setNoDelay(true);
        resolve(new RemoteSimulatedDatabase(socket));
      });
    });
  }

  /** Sends a request; with `reply`, resolves with the answer. */
  call(op: string, args: unknown[], at: { tx?: number; snapshot?: boolean } = {}, reply = true): Promise<unknown> {
    return this.request(op, args, at, reply).answered;
  }

  /** Sends a request and says its id (a watch is cancelled by it). */
  request(op: string, args: unknown[], at: { tx?: number; snapshot?: boolean } = {}, reply = true): { id: number; answered: Promise<unknown> } {
    const id = this.nextId++;
    if (this.closed) return { id, answered: Promise.reject(new FdbError(1031, 'the simulator went away')) };
    const answered = reply ? new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })) : Promise.resolve(undefined);
    this.socket.write(`${JSON.stringify({ id, op, args, ...at })}\n`);
    return { id, answered };
  }

  async transact<T>(fn: (tr: KvTransaction) => Promise<T>, options: { retryLimit?: number } = {}): Promise<T> {
    const limit = options.retryLimit ?? 100;
    for (let attempt = 0; ; attempt += 1) {
      const tx = (await this.call('begin', [])) as number;
      try {
        const result = await fn(remoteTransaction(this, tx));
        await this.call('commit', [], { tx });
        return result;
      } catch (err) {
        void this.call('abandon', [], { tx }, false).catch(() => undefined);
        if (!(err instanceof FdbError) || !isRetryable(err.code) || attempt >= limit || this.closed) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** Math.min(attempt, 6)) * Math.random()));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.socket.end();
  }
}

function remoteTransaction(db: RemoteSimulatedDatabase, tx: number): KvTransaction {
  const reads = (snapshot: boolean): KvReads => ({
    get: async (key) => {
      const v = (await db.call('get', [b(key)], { tx, snapshot })) as Wire | null;
      return v === null ? undefined : buf(v);
    },
    getRange: async (begin, end, options) => ((await db.call('getRange', [b(begin), b(end), options ?? {}], { tx, snapshot })) as [Wire, Wire][]).map(([k, v]) => [buf(k), buf(v)]),
    getKey: async (selector) => buf(await db.call('getKey', [{ ...selector, key: b(selector.key) }], { tx, snapshot })),
  });
  const write = (op: string, ...args: unknown[]) => void db.call(op, args, { tx }, false).catch(() => undefined);
  return {
    ...reads(false),
    snapshot: reads(true),
    getReadVersion: async () => BigInt((await db.call('getReadVersion', [], { tx })) as string),
    set: (key, value) => write('set', b(key), b(value)),
    clear: (key) => write('clear', b(key)),
    clearRange: (begin, end) => write('clearRange', b(begin), b(end)),
    add: (key, delta) => write('add', b(key), String(delta)),
    max: (key, value) => write('max', b(key), b(value)),
    setVersionstampedKey: (template, offset, value) => write('setVersionstampedKey', b(template), offset, b(value)),
    setVersionstampedValue: (key, template, offset) => write('setVersionstampedValue', b(key), b(template), offset),
    addReadConflictKey: (key) => write('addReadConflictKey', b(key)),
    watch(key): KvWatch {
      const { id, answered } = db.request('watch', [b(key)], { tx });
      return { changed: answered as Promise<boolean>, cancel: () => void db.call('cancelWatch', [id], {}, false).catch(() => undefined) };
    },
    getVersionstamp: async () => buf(await db.call('getVersionstamp', [], { tx })),
  };
}

/** The simulator's fault rates in a chaos run: conflicts and commits of unknown result, on a seed. */
export function chaosFaults(seed: number): FaultOptions {
  return { seed, conflictRate: 0.02, unknownResultRate: 0.01 };
}

/**
 * Lets `fdb-sim://127.0.0.1:<port>` URLs open the served simulator, in this process (the producer,
 * the checker) and in `skunq work` processes, which import this through the chaos jobs module.
 */
export function registerChaosBackends(): void {
  registerBackend('fdb-sim', async () => ({
    openStorage: async (url: string) => {
      const port = Number(/^fdb-sim:\/\/127\.0\.0\.1:(\d+)$/.exec(url)?.[1]);
      if (!port) throw new Error(`expected fdb-sim://127.0.0.1:<port>, got ${url}`);
      return FdbBackend.onDatabase(await RemoteSimulatedDatabase.open(port), { prefix: 'chaos' });
    },
  }));
}
