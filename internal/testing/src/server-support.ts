import { spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

// What every test server needs: a free port, and the rule for a missing program (CI fails, a developer skips).

/** A free TCP port on loopback (and, with `alsoFree`, a second one at an offset, e.g. Redis Cluster's bus). */
export async function freePort(alsoFree?: number): Promise<number> {
  for (let tries = 0; tries < 50; tries += 1) {
    const port = await listenOnce(0);
    if (alsoFree === undefined || (port + alsoFree < 65_536 && (await listenOnce(port + alsoFree).then(() => true, () => false)))) return port;
  }
  throw new Error('no free port pair found');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** Whether a program is on the PATH. */
export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/**
 * What to do when a test server's program is missing: in CI the run must fail, never skip
 * silently; on a developer's machine the suite is skipped with the reason.
 */
export function missingServer(program: string, install: string): string | null {
  return hasProgram(program) ? null : skipReason(`${program} is not installed (${install})`);
}

/** A reason to skip a suite, or, under `CI`, the error that fails the run instead. */
export function skipReason(reason: string): string {
  if (process.env.CI) throw new Error(`CI requires ${reason}`);
  return reason;
}

/**
 * The servers this process started: when it exits (after a crash too, though not when killed by a
 * signal) the ones still running are killed by PID (with `signal`, SIGKILL by default) and every data
 * directory is removed, so that a script that fails before stopping its servers leaves nothing behind.
 */
export type StartedServer = { child: ChildProcess | null; dir: string; signal?: NodeJS.Signals };
const startedServers = new Set<StartedServer>();
let cleanupHooked = false;

/**
 * Kills `server` (its current `child`) and removes its directory when this process exits.
 *
 * @example
 * ```ts
 * const started: StartedServer = { child: null, dir };
 * cleanUpAtExit(started);
 * started.child = await launch(args); // and again after each restart
 * ```
 */
export function cleanUpAtExit(server: StartedServer): void {
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.once('exit', () => {
      for (const { child, dir, signal } of startedServers) {
        try {
          if (child && child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal ?? 'SIGKILL');
          rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
        } catch {
          // Gone already, or still busy: the exit goes on.
        }
      }
    });
  }
  startedServers.add(server);
}

/**
 * Leaves `server` alone at exit: it failed to start, and its directory is removed already.
 *
 * @example
 * ```ts
 * forgetAtExit(started);
 * ```
 */
export function forgetAtExit(server: StartedServer): void {
  startedServers.delete(server);
}
