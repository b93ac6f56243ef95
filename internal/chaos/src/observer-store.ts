// The harness's own connection to the store under test, apart from the producer's (which goes through
// the queues, as a user's does): the sampler and the checker read what the store holds, not what one
// client of it believes, and a producer client that fails does not blind the check.
import type { StorageBackend } from '@skq/core';
import { FdbBackend } from '@skq/foundationdb';
import { RemoteSimulatedDatabase } from './fdb-remote-simulator.js';

export async function openObserverStore(url: string): Promise<StorageBackend> {
  if (url.startsWith('fdb-sim://')) return FdbBackend.onDatabase(await RemoteSimulatedDatabase.open(Number(new URL(url).port)), { prefix: 'chaos' });
  if (url.startsWith('sqlite:')) return (await import('@skq/sqlite')).openStorage(url);
  if (url.startsWith('redis')) return (await import('@skq/redis')).openStorage(url);
  if (url.startsWith('mongodb')) return (await import('@skq/mongodb')).openStorage(url);
  return (await import('@skq/foundationdb')).openStorage(url);
}
