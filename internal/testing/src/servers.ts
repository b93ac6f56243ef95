import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanUpAtExit, forgetAtExit, freePort, type StartedServer } from './server-support.js';

/** A redis-server started by a test on a free loopback port, stopped by PID. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  pid: number;
  /**
   * Stops the server gracefully (it saves its append-only file first). The directory of one without
   * persistence is removed; a persistent one's stays for a restart, until this process exits.
   */
  stop(): Promise<void>;
  /** Stops it, stays down for `downMs`, and starts it again on the same port and data directory. */
  restart(downMs?: number): Promise<void>;
}

/**
 * Starts `redis-server` on a free loopback port, or on `port` (chosen in advance with
 * {@link freePort}, for a client started before its server). `persistent` turns on the append-only
 * file with fsync on every write, so that a restart loses nothing acknowledged.
 */
export async function startRedis(options: { persistent?: boolean; clusterNode?: boolean; port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort(options.clusterNode ? 10_000 : undefined));
  const dir = mkdtempSync(join(tmpdir(), `skq-redis-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'no'];
  if (options.persistent) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  if (options.clusterNode) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000');
  const started: StartedServer = { child: null, dir };
  cleanUpAtExit(started);
  try {
    started.child = await launch(args, port);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    forgetAtExit(started);
    throw err;
  }
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return started.child!.pid!;
    },
    async stop() {
      await halt(started.child!);
      // A server without persistence has nothing to keep for a restart.
      if (!options.persistent) rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await halt(started.child!);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      mkdirSync(dir, { recursive: true });
      started.child = await launch(args, port);
    },
  };
  return server;
}

/** Stops a server gracefully (it saves its append-only file first). */
async function halt(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid!, 'SIGTERM');
  await exited;
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return child;
}

/** PING over a plain socket: never blocks the event loop, so tests keep producing while a server restarts. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** A 3-master Redis Cluster on loopback. */
export interface RedisCluster {
  nodes: RedisServer[];
  url: string;
  stop(): Promise<void>;
}

/** Starts a cluster of `masters` nodes; `persistent` gives each node an fsynced append-only file, so a node can restart. */
export async function startRedisCluster(masters = 3, options: { persistent?: boolean } = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i += 1) nodes.push(await startRedis({ clusterNode: true, persistent: options.persistent === true }));
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  const deadline = Date.now() + 20_000;
  for (const node of nodes) {
    for (;;) {
      const info = spawnSync('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout ?? '';
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster did not become ok:\n${info}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const others = addresses.slice(1).join(',');
  return {
    nodes,
    url: `redis://${addresses[0]}?cluster=true&nodes=${others}`,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    },
  };
}

export { POSTGRES_BIN, missingPostgres, startPostgres, type PostgresServer } from './postgres-server.js';
export { freePort, hasProgram, missingServer, skipReason } from './server-support.js';
