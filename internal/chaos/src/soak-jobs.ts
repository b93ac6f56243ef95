// The job of a soak run, loaded by its `skunq work` process: it does nothing, so that what grows, if
// anything, is skunq's.
import { SkunkQueue } from '@skq/core';

export const SOAK_QUEUE = 'soak';
/** What the soak keeps of finished jobs: memory and files must level off at this many. */
export const SOAK_KEEP = 1_000;

export const queue = new SkunkQueue(SOAK_QUEUE, { removeOnComplete: SOAK_KEEP, removeOnFail: SOAK_KEEP });
export const noop = queue.job({ name: 'soak.noop', routes: ['main'] }, async (n: number) => n);
