import { expect, it } from 'vitest';
import { SkunkQueue, isSkqError } from '@skq/core';
import { type StorageBackend } from '@skq/core/backend';
import { uniqueQueue } from './contract-fixtures.js';

/** A registration with no process behind it: nothing heartbeats it, nothing obeys its commands. */
async function deadWorker(backend: StorageBackend, queue: string, id: string, ttlMs: number): Promise<void> {
  await backend.registerWorker({ id, queue, routes: ['r'], hostname: 'h', pid: 1, startedAt: Date.now() }, ttlMs);
}

/** Waits until a command is left on the registration of `id`. */
async function commandLanded(backend: StorageBackend, queue: string, id: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await backend.listWorkers(queue)).some((w) => w.id === id && w.command !== null)) {
    if (Date.now() > deadline) throw new Error(`no command reached the registration of ${id}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The error a promise rejects with, or a failure if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const outcome = await promise.then(
    (value) => ({ resolved: value }),
    (err: unknown) => ({ err }),
  );
  if ('resolved' in outcome) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.resolved)}`);
  if (!isSkqError(outcome.err)) throw outcome.err;
  return { code: outcome.err.code, message: outcome.err.message };
}

/**
 * The contract cases for commands no worker obeys (`queue.commandWorker`): they expire with
 * `COMMAND_EXPIRED` and say why, whether the sender's wait ran out or the worker's registration
 * lapsed (it died) first. Registered inside `operationsContract`.
 */
export function workerCommandContract(current: () => StorageBackend): void {
  it('expires a command no worker obeys: COMMAND_EXPIRED when the wait runs out, or when the registration lapses', async () => {
    const backend = current();
    const name = uniqueQueue('expire');
    const queue = new SkunkQueue(name, { backend });
    try {
      await deadWorker(backend, name, 'w:silent', 60_000);
      expect(await rejection(queue.commandWorker('w:silent', 'pause', { timeoutMs: 300 }))).toEqual({
        code: 'COMMAND_EXPIRED',
        message: expect.stringMatching(/^worker w:silent did not obey "pause" within 300 ms; it may have died, and its registration expires at \d{4}-/),
      });
      // A worker killed before it obeyed: its registration lapses while the sender waits. A stop
      // is not "exited" then: the worker died, it did not stop as told.
      for (const id of ['w:killed-stop', 'w:killed-pause']) await deadWorker(backend, name, id, 800);
      const [stop, pause] = await Promise.all([
        rejection(queue.commandWorker('w:killed-stop', 'stop', { timeoutMs: 10_000 })),
        rejection(queue.commandWorker('w:killed-pause', 'pause', { timeoutMs: 10_000 })),
      ]);
      for (const [expired, id, command] of [[stop, 'w:killed-stop', 'stop'], [pause, 'w:killed-pause', 'pause']] as const) {
        expect(expired).toEqual({ code: 'COMMAND_EXPIRED', message: `worker ${id} stopped renewing its registration, which expired before it obeyed "${command}": it has died` });
      }
    } finally {
      await queue.close();
    }
  });

  it('reports a stop as exited when the worker unregisters before the sender sees it obey', async () => {
    const backend = current();
    const name = uniqueQueue('exited');
    const queue = new SkunkQueue(name, { backend });
    try {
      await deadWorker(backend, name, 'w:leaving', 60_000);
      const sent = queue.commandWorker('w:leaving', 'stop', { timeoutMs: 10_000 });
      await commandLanded(backend, name, 'w:leaving');
      await backend.unregisterWorker(name, 'w:leaving');
      expect(await sent).toMatchObject({ outcome: 'exited', command: { command: 'stop' } });
      // A pause to a worker that left is never obeyed.
      await deadWorker(backend, name, 'w:left', 60_000);
      // Caught from the start: the sender may see the worker gone before the unregistering call returns.
      const paused = rejection(queue.commandWorker('w:left', 'pause', { timeoutMs: 10_000 }));
      await commandLanded(backend, name, 'w:left');
      await backend.unregisterWorker(name, 'w:left');
      expect(await paused).toEqual({ code: 'COMMAND_EXPIRED', message: 'worker w:left went away before it obeyed "pause"' });
    } finally {
      await queue.close();
    }
  });
}
