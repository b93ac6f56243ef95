// skunq, Agenda 6 and Sidequest behind one interface, each used the way its documentation suggests for
// speed: Agenda with its MongoDB backend and its change-stream notification channel (no waiting for a
// poll); Sidequest in one process (`fork: false`, `runner: 'inline'`) with its MongoDB backend.
import { Agenda } from 'agenda';
import { MongoBackend as AgendaMongoBackend, MongoChangeStreamNotificationChannel } from '@agendajs/mongo-backend';
import { MongoClient } from 'mongodb';
import { Sidequest } from 'sidequest';
import { SkunkQueue } from '@skq/core';
import { MongoBackend } from '@skq/mongodb';
import { WorkerPool } from '@skq/worker';
import { counter } from '../completion-counter.js';
import { sidequestOptions } from '../sidequest-options.js';
import { BenchJob, sidequestHandler } from './sidequest-job.js';

export type JobData = { n: number; t?: number };
export type OnJob = (data: JobData) => void;

export interface Producer {
  addOne(data: JobData): Promise<unknown>;
  close(): Promise<void>;
}

export interface Consumer {
  /** Resolves once `count` handlers have returned. */
  done(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface Library {
  name: 'skunq' | 'agenda' | 'sidequest';
  /** Why it cannot run on a substitute server, if it cannot. */
  needsRealMongo?: string;
  producer(url: string): Promise<Producer>;
  consumer(url: string, concurrency: number, onJob?: OnJob): Promise<Consumer>;
}

const skunq: Library = {
  name: 'skunq',
  async producer(url) {
    const backend = await MongoBackend.connect({ url, logger: false });
    const queue = new SkunkQueue('bench', { backend });
    const job = queue.job({ name: 'noop', routes: ['bench'] }, async (_data: JobData) => undefined);
    return { addOne: (data) => job.fire(data), close: () => backend.close() };
  },
  async consumer(url, concurrency, onJob) {
    const backend = await MongoBackend.connect({ url, logger: false });
    const queue = new SkunkQueue('bench', { backend });
    const count = counter();
    queue.job({ name: 'noop', routes: ['bench'] }, async (data: JobData) => {
      onJob?.(data);
      count.bump();
    });
    const pool = new WorkerPool({ queue, routes: ['bench'], concurrency, handleSignals: false, scheduler: false });
    await pool.start();
    return {
      done: (n) => count.done(n),
      async close() {
        await pool.close();
        await backend.close();
      },
    };
  },
};

async function agendaOn(url: string, concurrency: number): Promise<{ agenda: Agenda; client: MongoClient }> {
  const client = await MongoClient.connect(url);
  const db = client.db();
  const agenda = new Agenda({
    backend: new AgendaMongoBackend({ mongo: db }),
    notificationChannel: new MongoChangeStreamNotificationChannel({ db }),
    processEvery: 100,
    maxConcurrency: concurrency,
    defaultConcurrency: concurrency,
  });
  return { agenda, client };
}

const agenda: Library = {
  name: 'agenda',
  async producer(url) {
    const { agenda: a, client } = await agendaOn(url, 1);
    a.define('noop', async () => undefined);
    await a.ready;
    return {
      addOne: (data) => a.now('noop', data),
      async close() {
        await a.stop().catch(() => undefined);
        await client.close();
      },
    };
  },
  async consumer(url, concurrency, onJob) {
    const { agenda: a, client } = await agendaOn(url, concurrency);
    const count = counter();
    a.define('noop', async (job: { attrs: { data: JobData } }) => {
      onJob?.(job.attrs.data);
      count.bump();
    }, { concurrency });
    await a.start();
    return {
      done: (n) => count.done(n),
      async close() {
        await a.stop();
        await client.close();
      },
    };
  },
};

/** Sidequest is one engine per process: the producer configures it, the consumer starts it. */
let sidequestUsers = 0;
async function releaseSidequest(): Promise<void> {
  sidequestUsers -= 1;
  if (sidequestUsers === 0) await Sidequest.stop();
}

const sidequest: Library = {
  name: 'sidequest',
  needsRealMongo:
    'its migration creates a unique index with a partialFilterExpression: mongo-java-server ignores the filter (duplicate key on the first two jobs) and FerretDB v1 refuses it (NotImplemented)',
  async producer(url) {
    if (sidequestUsers === 0) await Sidequest.configure(sidequestOptions('@sidequest/mongo-backend', url, 1));
    sidequestUsers += 1;
    return { addOne: (data) => Sidequest.build(BenchJob).queue('bench').enqueue(data), close: releaseSidequest };
  },
  async consumer(url, concurrency, onJob) {
    const count = counter();
    sidequestHandler.onJob = (data) => {
      onJob?.(data);
      count.bump();
    };
    await Sidequest.start(sidequestOptions('@sidequest/mongo-backend', url, concurrency));
    sidequestUsers += 1;
    return { done: (n) => count.done(n), close: releaseSidequest };
  },
};

export const LIBRARIES: Library[] = [skunq, agenda, sidequest];
