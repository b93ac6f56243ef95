// skunq and Agenda 6 behind one interface, each used the way its documentation suggests for speed:
// Agenda with its MongoDB backend and its change-stream notification channel (no waiting for a poll).
import { Agenda } from 'agenda';
import { MongoBackend as AgendaMongoBackend, MongoChangeStreamNotificationChannel } from '@agendajs/mongo-backend';
import { MongoClient } from 'mongodb';
import { SkunkQueue } from '@skq/core';
import { MongoBackend } from '@skq/mongodb';
import { WorkerPool } from '@skq/worker';
import { counter } from '../completion-counter.js';

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
  name: 'skunq' | 'agenda';
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

export const LIBRARIES: Library[] = [skunq, agenda];
