// The Redis backend's schedules: a hash per schedule and a set of their ids. Saving, firing,
// advancing and pausing are scripts that compare and bump the schedule's version in one step;
// firing enqueues the tick's job in the same script.
import { type ScheduleRecord } from '@skq/core';
import { scheduleFingerprint, type ScheduleDefinition, type ScheduleFiring, type ScheduleSaveOutcome } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { enqueueBatchArgs } from './job-operations.js';
import { toScheduleRecord } from './records.js';
import { Script } from './script-runner.js';

const SCRIPTS = {
  saveSchedule: new Script('save_schedule'),
  fireSchedule: new Script('fire_schedule'),
  advanceSchedule: new Script('advance_schedule'),
  pauseSchedule: new Script('pause_schedule'),
};

/** Names the queue in the directory first, so a queue with only schedules is listed. */
export async function saveSchedule(runner: CommandRunner, queue: string, definition: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
  await runner.addToDirectory(queue);
  const args = [definition.id, scheduleFingerprint(definition), definition.state ? JSON.stringify(definition.state) : '', Math.round(definition.nextRunAt)];
  return String(await runner.run('saveSchedule', queue, SCRIPTS.saveSchedule, runner.keys(queue).schedules, args)) as ScheduleSaveOutcome;
}

export async function listSchedules(runner: CommandRunner, queue: string): Promise<ScheduleRecord[]> {
  return runner.call('listSchedules', queue, async () => {
    const keys = runner.keys(queue);
    const ids = (await runner.client.smembers(keys.schedules)).sort();
    const hashes = await Promise.all(ids.map((id) => runner.client.hgetall(keys.schedule(id))));
    return ids.flatMap((id, i) => (hashes[i]!.def ? [toScheduleRecord(queue, id, hashes[i]!)] : []));
  });
}

export async function setSchedulePaused(runner: CommandRunner, queue: string, id: string, paused: boolean): Promise<boolean> {
  return Number(await runner.run('setSchedulePaused', queue, SCRIPTS.pauseSchedule, runner.keys(queue).schedules, [id, paused ? '1' : '0'])) === 1;
}

export async function removeSchedule(runner: CommandRunner, queue: string, id: string): Promise<boolean> {
  const keys = runner.keys(queue);
  const removed = await runner.call('removeSchedule', queue, () => runner.client.srem(keys.schedules, id));
  await runner.call('removeSchedule', queue, () => runner.client.del(keys.schedule(id)));
  return removed === 1;
}

export async function fireSchedule(runner: CommandRunner, queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
  const args = [id, version, firing.nextRunAt ?? '', firing.waitingJobId ?? '', Math.round(firing.firedAt), firing.job.id, ...enqueueBatchArgs([firing.job])];
  return Number(await runner.run('fireSchedule', queue, SCRIPTS.fireSchedule, runner.keys(queue).schedules, args)) === 1;
}

export async function advanceSchedule(runner: CommandRunner, queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
  const args = [id, version, Math.round(next.nextRunAt), next.state ? JSON.stringify(next.state) : ''];
  return Number(await runner.run('advanceSchedule', queue, SCRIPTS.advanceSchedule, runner.keys(queue).schedules, args)) === 1;
}
