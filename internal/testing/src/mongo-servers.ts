import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hasProgram, skipReason } from './servers.js';

/** The MongoDB wire-protocol servers the MongoDB suites run against. */
export type MongoServerKind = 'mongo-java-server' | 'ferretdb' | 'mongodb';

/** What a server can do, as far as the suites need to know. */
export interface MongoServerFeatures {
  /** Collection change streams (the backend's preferred wake-ups and the triggers). */
  changeStreams: boolean;
  /** Database-wide change streams (triggers without a collection). */
  databaseChangeStreams: boolean;
  /** Capped collections with tailable cursors (CappedQueue, tailable wake-ups). */
  cappedCollections: boolean;
  /** Atomic findAndModify and conditional updates (FerretDB v1's are not, so races are not run on it). */
  atomicUpdates: boolean;
}

/** What each server can do: suites decide what to run before any server starts. */
export const MONGO_SERVER_FEATURES: Record<MongoServerKind, MongoServerFeatures> = {
  'mongo-java-server': { changeStreams: true, databaseChangeStreams: false, cappedCollections: false, atomicUpdates: true },
  ferretdb: { changeStreams: false, databaseChangeStreams: false, cappedCollections: true, atomicUpdates: false },
  mongodb: { changeStreams: true, databaseChangeStreams: true, cappedCollections: true, atomicUpdates: true },
};

/** A MongoDB wire-protocol server a suite started on a free loopback port, stopped by PID. */
export interface MongoTestServer {
  kind: MongoServerKind;
  /** Printed in test names, so output says which server a result came from. */
  name: string;
  url: string;
  /** The server's process id, for SIGSTOP and SIGCONT; null for a server the tests did not start. */
  readonly pid: number | null;
  stop(): Promise<void>;
  /** Stops it, stays down for `downMs`, and starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  /** The server's last lines of output (stdout and stderr), for a failure message. */
  recentOutput(): string;
}

const root = fileURLToPath(new URL('../mongo-servers/', import.meta.url));
const javaClasspath = `${join(root, 'java/target/classes')}:${join(root, 'java/target/lib/*')}`;
const ferretBinary = join(root, 'ferretdb/bin/ferretdb-test-server');
const SETUP = 'run ./scripts/setup-test-servers.sh, which builds it';

const NAMES: Record<MongoServerKind, string> = {
  'mongo-java-server': 'mongo-java-server 1.47 (reports MongoDB 5.0)',
  ferretdb: 'FerretDB v1.24 embedded (SQLite)',
  mongodb: 'MongoDB at SKQ_MONGODB_URL',
};

/** A server's display name, for `describe` titles. */
export function mongoServerName(kind: MongoServerKind): string {
  return NAMES[kind];
}

/**
 * Why a server cannot be started here, or null when it can. In CI a missing test server fails the
 * run (the setup script builds both); a real MongoDB is used only when `SKQ_MONGODB_URL` is set.
 */
export function missingMongoServer(kind: MongoServerKind): string | null {
  let reason: string | null = null;
  if (kind === 'mongodb') return process.env.SKQ_MONGODB_URL ? null : 'SKQ_MONGODB_URL is not set (see the README: docker compose up -d mongodb)';
  if (kind === 'mongo-java-server' && (!hasProgram('java') || !existsSync(join(root, 'java/target/classes/skunq/testing/MongoTestServer.class')))) {
    reason = `mongo-java-server is not built (${SETUP})`;
  }
  if (kind === 'ferretdb' && !existsSync(ferretBinary)) reason = `the FerretDB test server is not built (${SETUP})`;
  return reason === null ? null : skipReason(reason);
}

/** Starts a test server of the given kind (for `mongodb`, wraps `SKQ_MONGODB_URL`, which the suite cannot restart). */
export async function startMongoServer(kind: MongoServerKind, options: { durable?: boolean } = {}): Promise<MongoTestServer> {
  if (kind === 'mongodb') {
    return {
      kind,
      name: NAMES[kind],
      url: process.env.SKQ_MONGODB_URL!,
      pid: null,
      async stop() {},
      async restart() {
        throw new Error('a MongoDB at SKQ_MONGODB_URL is not restarted by the tests');
      },
      recentOutput: () => '',
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `skq-${kind}-${port}-`));
  const durable = kind === 'ferretdb' || options.durable === true;
  const command: [string, string[]] =
    kind === 'ferretdb'
      ? [ferretBinary, [String(port), join(dir, 'data')]]
      : ['java', ['-Xss4m', '-cp', javaClasspath, 'skunq.testing.MongoTestServer', String(port), ...(durable ? [join(dir, 'store.mv')] : [])]];
  const recent: string[] = [];
  let child = await launch(command, port, recent);
  const halt = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGTERM');
    await exited;
  };
  const server: MongoTestServer = {
    kind,
    name: NAMES[kind],
    url: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    get pid() {
      return child.pid!;
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await halt();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      recent.push(`--- restarted after ${downMs} ms ---`);
      child = await launch(command, port, recent);
    },
    recentOutput: () => recent.join(''),
  };
  return server;
}

/**
 * Starts the server and waits for its "listening PORT" line. Its last 40 chunks of output are kept
 * in `recent`, for failure messages; set SKQ_DEBUG_SERVERS=1 to see all of it as it comes.
 */
async function launch([program, args]: [string, string[]], port: number, recent: string[]): Promise<ChildProcess> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let listening = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} did not start listening on ${port} within 30 s:\n${output}`));
    }, 30_000);
    const onOutput = (chunk: Buffer) => {
      if (process.env.SKQ_DEBUG_SERVERS) process.stderr.write(`[${program.split('/').pop()}] ${chunk}`);
      recent.push(String(chunk));
      if (recent.length > 40) recent.splice(0, recent.length - 40);
      if (listening) return;
      output += chunk;
      if (output.includes(`listening ${port}`)) {
        listening = true;
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`${program} exited (${code}) before listening:\n${output}`));
    });
  });
}
