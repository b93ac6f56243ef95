// The three queue libraries behind one interface, each used the way its documentation suggests for speed.
import BeeQueue from 'bee-queue';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { SkunkQueue, type JobDefinition } from '@skq/core';
import { RedisBackend } from '@skq/redis';
import { WorkerPool } from '@skq/worker';
import { counter, succeededCounter } from '../completion-counter.js';

export interface Producer {
  addOne(data: { n: number; t?: number }): Promise<unknown>;
  addBulk(items: { n: number }[]): Promise<unknown>;
  close(): Promise<void>;
}

export interface Consumer {
  /** Resolves once `count` jobs have completed (acknowledged to Redis). */
  done(count: number): Promise<void>;
  close(): Promise<void>;
}

export type OnJob = (data: { n: number; t?: number }) => void;

export interface Library {
  name: 'skunq' | 'bullmq' | 'bee-queue';
  /**
   * `keep`: keep finished jobs and their results (for the memory case) instead of removing them.
   * `groups` (skunq alone, the groups case): job n belongs to group n mod `groups`, each limited to 2 running at once.
   */
  producer(port: number, queue: string, keep?: boolean, groups?: number): Promise<Producer>;
  consumer(port: number, queue: string, concurrency: number, onJob?: OnJob, keep?: boolean, groups?: number): Promise<Consumer>;
}

/** The group option of the groups case: job n in group n mod `groups`. */
const grouped = (groups?: number) => (groups ? { group: (data: { n: number }) => `g${data.n % groups}` } : {});

const skunq: Library = {
  name: 'skunq',
  async producer(port, name, keep, groups) {
    const backend = await RedisBackend.connect(`redis://127.0.0.1:${port}?removeOnComplete=${!keep}`);
    const queue = new SkunkQueue(name, { backend });
    const job = queue.job({ name: 'noop', routes: ['bench'], ...grouped(groups) }, async (_data: { n: number; t?: number }) => undefined);
    return {
      addOne: (data) => job.fire(data),
      addBulk: (items) => queue.pushMany(items.map((data) => job.with(data))),
      close: () => backend.close(),
    };
  },
  async consumer(port, name, concurrency, onJob, keep, groups) {
    const backend = await RedisBackend.connect(`redis://127.0.0.1:${port}?removeOnComplete=${!keep}`);
    const queue = new SkunkQueue(name, { backend });
    const job: JobDefinition<[{ n: number; t?: number }], { ok: boolean; n: number } | undefined> = queue.job({ name: 'noop', routes: ['bench'], ...grouped(groups) }, async (data: { n: number; t?: number }) => {
      onJob?.(data);
      return keep ? { ok: true, n: data.n } : undefined;
    });
    if (groups) await queue.setGroupLimits('*', { concurrency: 2 });
    const completed = succeededCounter();
    const pool = new WorkerPool({ queue, routes: ['bench'], concurrency, handleSignals: false, jobs: [job], onAttemptEnd: completed.onAttemptEnd });
    await pool.start();
    return {
      done: completed.done,
      async close() {
        await pool.close();
        await backend.close();
      },
    };
  },
};

const bullmq: Library = {
  name: 'bullmq',
  async producer(port, name, keep) {
    const queue = new BullQueue(name, { connection: { host: '127.0.0.1', port } });
    const opts = { removeOnComplete: !keep };
    return {
      addOne: (data) => queue.add('noop', data, opts),
      addBulk: (items) => queue.addBulk(items.map((data) => ({ name: 'noop', data, opts }))),
      close: () => queue.close(),
    };
  },
  async consumer(port, name, concurrency, onJob, keep) {
    const completed = counter();
    const worker = new BullWorker(
      name,
      async (job) => {
        onJob?.(job.data);
        return keep ? { ok: true, n: job.data.n } : undefined;
      },
      { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, concurrency, ...(keep ? {} : { removeOnComplete: { count: 0 } }) },
    );
    worker.on('completed', () => completed.bump());
    await worker.waitUntilReady();
    return { done: completed.done, close: () => worker.close() };
  },
};

const beeQueue: Library = {
  name: 'bee-queue',
  async producer(port, name) {
    const queue = new BeeQueue(name, { redis: { host: '127.0.0.1', port }, isWorker: false, getEvents: false, sendEvents: false, storeJobs: false });
    await queue.ready();
    return {
      addOne: (data) => queue.createJob(data).save(),
      addBulk: (items) => queue.saveAll(items.map((data) => queue.createJob(data))),
      close: () => queue.close(),
    };
  },
  async consumer(port, name, concurrency, onJob, keep) {
    const completed = counter();
    const queue = new BeeQueue(name, {
      redis: { host: '127.0.0.1', port },
      isWorker: true,
      getEvents: false,
      sendEvents: false,
      storeJobs: false,
      removeOnSuccess: !keep,
    });
    queue.on('succeeded', () => completed.bump());
    queue.process(concurrency, async (job: { data: { n: number; t?: number } }) => {
      onJob?.(job.data);
      return keep ? { ok: true, n: job.data.n } : undefined;
    });
    await queue.ready();
    return { done: completed.done, close: () => queue.close() };
  },
};

export const LIBRARIES: Library[] = [skunq, bullmq, beeQueue];
