import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkqError } from '@skq/core';
import { clusterUnreachableError } from '../fdb-errors.js';
import type { KvDatabase } from './port.js';

/** How long the first transaction of a new connection may wait for the cluster. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The cluster file a connection will use, found the way FDB's client finds it: the one named, else
 * `$FDB_CLUSTER_FILE`, else `fdb.cluster` in the working directory, else the platform's default.
 * A missing file is `CONFIG_INVALID` naming every place looked (FDB's own client would only wait).
 *
 * @example
 * ```ts
 * resolveClusterFile(undefined); // '/etc/foundationdb/fdb.cluster' when that file exists
 * ```
 */
export function resolveClusterFile(named: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const explicit = named ?? env.FDB_CLUSTER_FILE;
  const candidates = explicit ? [explicit] : [join(cwd, 'fdb.cluster'), process.platform === 'darwin' ? '/usr/local/etc/foundationdb/fdb.cluster' : '/etc/foundationdb/fdb.cluster'];
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  const how = named ? 'named in the fdb: URL' : explicit ? 'named by FDB_CLUSTER_FILE' : 'at FDB\'s default locations';
  throw new SkqError('CONFIG_INVALID', `no FoundationDB cluster file ${how}: ${candidates.join(', ')} does not exist. Name one with fdb:/path/to/fdb.cluster or FDB_CLUSTER_FILE (fdbserver writes it on the cluster's machines)`, {
    context: { field: 'clusterFile', reason: 'cluster-file-missing', looked: candidates },
  });
}

/**
 * Reads the cluster's version once, waiting at most `timeoutMs`: a cluster that does not answer is
 * `BACKEND_UNAVAILABLE` naming the file and its coordinators, at connect, instead of every later
 * call hanging (FDB's client waits for ever by default).
 *
 * @example
 * ```ts
 * await probeCluster(db, '/etc/foundationdb/fdb.cluster');
 * ```
 */
export async function probeCluster(db: KvDatabase, clusterFile: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  try {
    await db.transact((tr) => tr.getReadVersion(), { timeoutMs, retryLimit: 0 });
  } catch (cause) {
    throw clusterUnreachableError(cause, clusterFile, describeCoordinators(clusterFile), timeoutMs);
  }
}

/** The coordinators a cluster file names (`description:id@host:port,…`), for messages. */
function describeCoordinators(clusterFile: string): string {
  try {
    const text = readFileSync(clusterFile, 'utf8').trim();
    return text.slice(text.indexOf('@') + 1) || 'none listed';
  } catch {
    return 'the file could not be read';
  }
}
