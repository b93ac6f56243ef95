// The server of each backend a chaos run abuses: started on a free loopback port, restarted and
// paused on the fault plan's word, and stopped by PID at the end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres, startRedis, startRedisCluster } from '@skq/testing/servers';
import { startMongoServer } from '@skq/testing/mongo-servers';

export const CHAOS_BACKENDS = ['sqlite', 'redis', 'redis-cluster', 'postgres', 'mongodb', 'foundationdb'] as const;
export type ChaosBackend = (typeof CHAOS_BACKENDS)[number];

export interface BackendUnderTest {
  kind: ChaosBackend;
  /** What it is, for the report: "redis-server 7.0 (AOF, fsync always)"… */
  description: string;
  url: string;
  /** The server processes a pause stops (none for SQLite, which has no server). */
  serverPids(): number[];
  /**
   * The restart-like fault this backend gets: a server restart, or for SQLite a writer killed
   * mid-transaction. `at` is when the fault began: the server stopped, or the writer took the lock.
   */
  restart(): Promise<{ pid: number; role: 'server' | 'writer'; at: number }>;
  stop(): Promise<void>;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const NODE_SOURCE = ['--conditions=skq-source', '--import', 'tsx'];

export async function startBackend(kind: ChaosBackend, seed: number): Promise<BackendUnderTest> {
  switch (kind) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'skq-chaos-sqlite-'));
      const file = join(dir, 'chaos.db');
      return {
        kind,
        description: 'SQLite file (WAL, synchronous=NORMAL); no server: a writer process is killed holding the write lock mid-transaction',
        // Every job kept: the checker reads back every job acknowledged (SQLite's default retention
        // would remove all but the newest thousand).
        url: `sqlite:${file}?removeOnComplete=false&removeOnFail=false`,
        serverPids: () => [],
        restart: () => killWriterInTransaction(file),
        stop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'redis': {
      const server = await startRedis({ persistent: true });
      return {
        kind,
        description: 'redis-server, append-only file with fsync always',
        url: server.url,
        serverPids: () => [server.pid],
        restart: async () => {
          const pid = server.pid;
          const at = Date.now();
          await server.restart(1_000);
          return { pid, role: 'server', at };
        },
        stop: async () => {
          await server.stop();
          rmSync(server.dir, { recursive: true, force: true });
        },
      };
    }
    case 'redis-cluster': {
      const cluster = await startRedisCluster(3, { persistent: true });
      let next = 0;
      return {
        kind,
        description: 'Redis Cluster, 3 masters, append-only files with fsync always; one node restarts at a time',
        url: cluster.url,
        serverPids: () => cluster.nodes.map((n) => n.pid),
        restart: async () => {
          const node = cluster.nodes[next++ % cluster.nodes.length]!;
          const pid = node.pid;
          const at = Date.now();
          await node.restart(1_000);
          return { pid, role: 'server', at };
        },
        stop: () => cluster.stop(),
      };
    }
    case 'postgres': {
      const server = await startPostgres();
      let restartsSoFar = 0;
      return {
        kind,
        description: 'PostgreSQL 15 (fsync and synchronous_commit on); restarts alternate an immediate shutdown (as pg_ctl stop -m immediate) with pg_terminate_backend of every client connection; a pause stops the postmaster or one connection\'s backend',
        // Every job kept: the checker reads back every job acknowledged.
        url: `${server.url}?skqRemoveOnComplete=false&skqRemoveOnFail=false`,
        // The postmaster and its backends: pausing the postmaster stops new connections, pausing a
        // backend stalls one connection mid-transaction with its locks held.
        serverPids: () => [server.pid, ...childPids(server.pid)],
        restart: async () => {
          const pid = server.pid;
          const at = Date.now();
          if (restartsSoFar++ % 2 === 0) await server.restart({ downMs: 1_000, immediate: true });
          else await terminateConnections(server.url);
          return { pid, role: 'server', at };
        },
        stop: () => server.stop(),
      };
    }
    case 'mongodb': {
      const server = await startMongoServer('mongo-java-server', { durable: true });
      return {
        kind,
        description: 'mongo-java-server 1.47 with its H2 file (a substitute: no mongod can run here)',
        url: server.url,
        serverPids: () => [server.pid!],
        restart: async () => {
          const pid = server.pid!;
          const at = Date.now();
          await server.restart(1_000);
          return { pid, role: 'server', at };
        },
        stop: () => server.stop(),
      };
    }
    case 'foundationdb': {
      if (process.env.FDB_CLUSTER_FILE) {
        return {
          kind,
          description: `FoundationDB at ${process.env.FDB_CLUSTER_FILE}`,
          url: `fdb:${process.env.FDB_CLUSTER_FILE}?prefix=chaos${seed}`,
          serverPids: () => [],
          restart: () => Promise.reject(new Error('a real FoundationDB cluster is not restarted by the harness')),
          stop: async () => undefined,
        };
      }
      const simulator = await startSimulator(seed);
      return {
        kind,
        description: "FoundationDB's simulator in its own process, with 2 % injected conflicts and 1 % commits of unknown result (a substitute: no fdbserver can run here)",
        url: `fdb-sim://127.0.0.1:${simulator.port}`,
        serverPids: () => [simulator.child.pid!],
        restart: () => Promise.reject(new Error('the simulator keeps nothing across a restart')),
        stop: async () => {
          simulator.child.kill('SIGKILL');
        },
      };
    }
  }
}

/** The processes the postmaster forked: its client backends and its own helpers. */
function childPids(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter(Boolean).map(Number);
}

/** Kills every client connection (pg_terminate_backend): each skunq process must reconnect and carry on. */
async function terminateConnections(url: string): Promise<void> {
  const client = new pg.Client(url);
  // A fault of the same run (a restart, a pause) may end this connection: its query or end rejects then, and
  // an 'error' event nobody listens to would crash the chaos driver.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'`);
  } finally {
    await client.end();
  }
}

/** Whether `restart()` means anything for this backend. */
export function restarts(backend: BackendUnderTest): boolean {
  return backend.kind !== 'foundationdb';
}

async function startSimulator(seed: number): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...NODE_SOURCE, join(HERE, 'fdb-simulator-server.ts'), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await waitForLine(child, /listening (\d+)/);
  return { port: Number(port), child };
}

/**
 * A process that takes SQLite's write lock, changes every queued job row to running in an open
 * transaction, and SIGKILLs itself before it commits: the next writer must find nothing of it. It
 * kills itself because this process may be blocked meanwhile, in a synchronous SQLite call waiting for
 * that very lock. `at` is when it took the lock, by its own clock line.
 */
async function killWriterInTransaction(file: string): Promise<{ pid: number; role: 'writer'; at: number }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1], { timeout: 30000 });
    db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE skq_jobs SET state = 1, worker_id = 'ghost', lease_until = 1 WHERE state = 0").run();
    console.log('in transaction at ' + Date.now());
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 200);`;
  const child = spawn(process.execPath, ['-e', script, file], { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const at = Number(await waitForLine(child, /in transaction at (\d+)/));
  await exited;
  return { pid: child.pid!, role: 'writer', at };
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    // 'close', not 'exit': the output a process printed before it died is read by then.
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${pattern}:\n${out}`));
    });
  });
}
