import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanUpAtExit, freePort, skipReason, type StartedServer } from './server-support.js';

/** Where Debian's postgresql-15 puts its programs; `SKQ_PG_BIN` names another build. */
export const POSTGRES_BIN = process.env.SKQ_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * Why the PostgreSQL suites cannot run here, or null when they can. Under `CI` a missing server
 * throws instead (the run fails, it never skips silently).
 *
 * @example
 * ```ts
 * describe.skipIf(missingPostgres())('postgres', () => {});
 * ```
 */
export function missingPostgres(): string | null {
  return existsSync(join(POSTGRES_BIN, 'postgres')) ? null : skipReason(`PostgreSQL 15 is not installed at ${POSTGRES_BIN} (apt-get install postgresql-15)`);
}

/** A throwaway PostgreSQL cluster on a free loopback port, stopped by the postmaster's PID. */
export interface PostgresServer {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication on loopback). */
  url: string;
  /** The temp dir holding the cluster (`data/`) and its socket; removed by `stop()`. */
  dir: string;
  /** The postmaster's PID. */
  readonly pid: number;
  /** Fast shutdown (SIGINT), then the cluster's files are removed. */
  stop(): Promise<void>;
  /**
   * Stops the server (`immediate`: SIGQUIT, as `pg_ctl stop -m immediate`, so it recovers from the
   * WAL at start; else a fast shutdown), stays down `downMs`, and starts it again on the same port and data.
   */
  restart(options?: { downMs?: number; immediate?: boolean }): Promise<void>;
}

/**
 * Makes a cluster with `initdb` in a temp dir and starts `postgres` on a free loopback port (or on
 * `port`). PostgreSQL refuses to run as root: when this process is root, both run as the `postgres`
 * system user (the data dir is made theirs). `durable: false` turns fsync off, for suites that never
 * crash the server; the default keeps PostgreSQL's own durability.
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * const backend = await PostgresBackend.connect(server.url);
 * await server.stop();
 * ```
 */
export async function startPostgres(options: { port?: number; durable?: boolean } = {}): Promise<PostgresServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `skq-pg-${port}-`));
  const data = join(dir, 'data');
  const owner = process.getuid?.() === 0 ? postgresUser() : null;
  mkdirSync(data, { mode: 0o700 });
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(data, owner.uid, owner.gid);
  }
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(join(POSTGRES_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    encoding: 'utf8',
    cwd: dir,
    ...asOwner,
  });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  if (options.durable === false) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  // A process that exits without stopping it (a crashed chaos driver) shuts it down at once (SIGQUIT: the
  // postmaster takes its backends with it) and removes its directory.
  const started: StartedServer = { child: null, dir, signal: 'SIGQUIT' };
  cleanUpAtExit(started);
  let child = await launchPostgres(args, dir, asOwner);
  started.child = child;
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let pid = postmasterPid();
  const halt = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(pid, signal);
    await exited;
  };
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    get pid() {
      return pid;
    },
    async stop() {
      await halt('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
    async restart({ downMs = 0, immediate = false } = {}) {
      await halt(immediate ? 'SIGQUIT' : 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await launchPostgres(args, dir, asOwner);
      started.child = child;
      pid = postmasterPid();
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('PostgreSQL refuses to run as root, and there is no `postgres` system user to run it as');
  return { uid, gid };
}

/** Starts the postmaster and waits for its "ready to accept connections" line. */
async function launchPostgres(args: string[], cwd: string, asOwner: { uid?: number; gid?: number }): Promise<ChildProcess> {
  const child = spawn(join(POSTGRES_BIN, 'postgres'), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...asOwner });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  while (!output.includes('ready to accept connections')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`postgres did not start within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // Its log is not kept any more: drained, so the pipe never fills.
  child.stdout!.removeAllListeners('data').resume();
  child.stderr!.removeAllListeners('data').resume();
  return child;
}
