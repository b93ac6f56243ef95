// The Redis backend's worker registrations and the commands left on them.
import type { WorkerInfo } from '@skq/core';
import type { WorkerCommand, WorkerRegistration, WorkerStatus } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { toWorker } from './records.js';
import { Script } from './script-runner.js';

const SCRIPTS = {
  registerWorker: new Script('register_worker'),
  heartbeat: new Script('heartbeat'),
  liveWorkers: new Script('live_workers'),
  sendCommand: new Script('send_command'),
};

/** Names the queue in the directory first, so a queue with only workers is listed. */
export async function registerWorker(runner: CommandRunner, info: WorkerRegistration, ttlMs: number): Promise<void> {
  await runner.addToDirectory(info.queue);
  await runner.run('registerWorker', info.queue, SCRIPTS.registerWorker, runner.keys(info.queue).workers, [info.id, ttlMs, info.routes.join(','), info.hostname, info.pid, info.startedAt]);
}

export async function heartbeat(runner: CommandRunner, queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
  const args = [workerId, ttlMs, status.state, JSON.stringify(status.runningJobIds), status.obeyedCommandId ?? ''];
  const reply = await runner.run('heartbeat', queue, SCRIPTS.heartbeat, runner.keys(queue).workers, args);
  return Array.isArray(reply) ? toWorker(queue, workerId, flatHash(reply as string[])) : null;
}

export async function sendWorkerCommand(runner: CommandRunner, queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
  const args = [workerId, JSON.stringify(command), command.id];
  return Number(await runner.run('sendWorkerCommand', queue, SCRIPTS.sendCommand, runner.keys(queue).workers, args)) === 1;
}

export async function unregisterWorker(runner: CommandRunner, queue: string, workerId: string): Promise<void> {
  const keys = runner.keys(queue);
  await runner.call('unregisterWorker', queue, () => Promise.all([runner.client.zrem(keys.workers, workerId), runner.client.del(keys.worker(workerId))]));
}

/** The live workers, oldest first. */
export async function listWorkers(runner: CommandRunner, queue: string): Promise<WorkerInfo[]> {
  const flat = (await runner.run('listWorkers', queue, SCRIPTS.liveWorkers, runner.keys(queue).workers, [])) as (string | string[])[];
  const workers: WorkerInfo[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    workers.push(toWorker(queue, flat[i] as string, flatHash(flat[i + 1] as string[])));
  }
  return workers.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
}

/** A field/value array as HGETALL returns it inside a script, as an object. */
function flatHash(fields: string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let f = 0; f < fields.length; f += 2) hash[fields[f]!] = fields[f + 1]!;
  return hash;
}
