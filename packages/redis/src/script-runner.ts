import type { Cluster, Redis } from 'ioredis';
import { SkqError } from '@skq/core';
import { LIBRARY, type FunctionName } from './scripts/library.js';

/**
 * A function of skunq's Redis Functions library (scripts/library.ts), called with FCALL. The library
 * is loaded on a node's first "Function not found" (on every master of a cluster), so it also
 * survives a Redis restart without persistence or a node added to a cluster.
 */
export class Script {
  private readonly fn: string;
  constructor(readonly name: FunctionName) {
    this.fn = LIBRARY.prefix + name;
  }

  async run(client: Redis | Cluster, key: string, args: (string | number)[]): Promise<unknown> {
    try {
      return await client.fcall(this.fn, 1, key, ...args);
    } catch (err) {
      const message = String((err as Error).message);
      if (/unknown command .?fcall/i.test(message)) {
        throw new SkqError('BACKEND_ERROR', 'redis: skunq needs Redis 7.0 or newer (it keeps its scripts as Redis Functions)', { cause: err });
      }
      if (!/Function not found/i.test(message)) throw err;
      await loadLibrary(client);
      return client.fcall(this.fn, 1, key, ...args);
    }
  }
}

/** Loads the library on the server, or on every master of a cluster; a copy already loaded is kept. */
async function loadLibrary(client: Redis | Cluster): Promise<void> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(
    nodes.map((node) =>
      node.function('LOAD', LIBRARY.code).catch((err: Error) => {
        if (!/already exists/i.test(err.message)) throw err;
      }),
    ),
  );
}
