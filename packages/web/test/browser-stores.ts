// The stores a browser test of the monitor runs on: every backend. The monitor runs in the test's
// process, so FoundationDB's simulator (which lives in one process) is covered like the servers.
import type { StorageBackend } from '@skq/core/backend';
import { FdbBackend } from '@skq/foundationdb';
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { missingMongoServer, missingPostgres, missingServer, startMongoServer, startPostgres, startRedis, tempSqlite } from '@skq/testing';

/** A store for one run: its URL or open backend, and how to take it down. */
export interface BrowserStore {
  backend: string | StorageBackend;
  stop(): Promise<void>;
}

/** Each backend as `describe.each` takes it: its name, why it cannot run here (null: it can), how to start it. */
export type BrowserStoreCase = [string, string | null, () => Promise<BrowserStore>];

/** Every backend, its files, databases and simulator seed named after `name`. */
export function browserStores(name: string, seed: number): BrowserStoreCase[] {
  return [
    [
      'sqlite',
      null,
      async () => {
        const db = tempSqlite(name);
        return { backend: db.url, stop: async () => db.remove() };
      },
    ],
    [
      'redis',
      missingServer('redis-server', 'apt-get install redis-server'),
      async () => {
        const redis = await startRedis();
        return { backend: redis.url, stop: () => redis.stop() };
      },
    ],
    [
      'mongodb (mongo-java-server)',
      missingMongoServer('mongo-java-server'),
      async () => {
        const mongo = await startMongoServer('mongo-java-server');
        return { backend: mongo.url.replace('/?', `/skq_${name.replace(/\W/g, '_')}?`), stop: () => mongo.stop() };
      },
    ],
    [
      'postgres',
      missingPostgres(),
      async () => {
        const server = await startPostgres({ durable: false });
        return { backend: server.url, stop: () => server.stop() };
      },
    ],
    [
      'foundationdb (simulator)',
      null,
      async () => ({ backend: FdbBackend.onDatabase(new SimulatedCluster({ seed }).open()), stop: async () => {} }),
    ],
  ];
}
