// The Redis backend's reads and writes of a queue as a whole: paused routes, and counts by route and state.
import { type JobState, type StateCounts } from '@skq/core';
import { zeroStateCounts } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { Script } from './script-runner.js';

const SET_PAUSED = new Script('set_paused');

export async function setPaused(runner: CommandRunner, queue: string, route: string, paused: boolean): Promise<boolean> {
  return Number(await runner.run('setPaused', queue, SET_PAUSED, runner.keys(queue).paused, [route, paused ? '1' : '0'])) === 1;
}

export async function pausedRoutes(runner: CommandRunner, queue: string): Promise<string[]> {
  return (await runner.call('pausedRoutes', queue, () => runner.client.smembers(runner.keys(queue).paused))).sort();
}

/**
 * Counts from the 'counts' hash; a route's queued deliveries whose run time is ahead (in its
 * delayed set) are counted as scheduled instead.
 */
export async function countByState(runner: CommandRunner, queue: string): Promise<StateCounts> {
  return runner.call('countByState', queue, async () => {
    const keys = runner.keys(queue);
    const raw = await runner.client.hgetall(keys.counts);
    const counts: StateCounts = {};
    for (const [field, value] of Object.entries(raw)) {
      const [route, state] = field.split('|') as [string, JobState];
      counts[route] ??= zeroStateCounts();
      counts[route]![state] += Number(value);
    }
    const now = Date.now();
    await Promise.all(
      Object.keys(counts).map(async (route) => {
        const later = await runner.client.zcount(keys.delayed(route), `(${now}`, '+inf');
        counts[route]!.scheduled = later;
        counts[route]!.queued -= later;
      }),
    );
    return counts;
  });
}
