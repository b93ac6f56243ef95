import type { VersionedStore } from './versioned-store.js';

/** A buffered write, keys as latin1 strings. */
export type WriteOp =
  | { kind: 'set'; key: string; value: Buffer }
  | { kind: 'clear'; key: string }
  | { kind: 'clearRange'; key: string; end: string }
  | { kind: 'add' | 'max'; key: string; value: Buffer }
  | { kind: 'versionstampedKey'; key: string; offset: number; value: Buffer }
  | { kind: 'versionstampedValue'; key: string; offset: number; value: Buffer };

/** What a transaction hands the cluster at commit. */
export interface CommitRequest {
  readVersion: bigint;
  reads: [string, string][];
  writes: WriteOp[];
  conflictWrites: [string, string][];
  committed(version: bigint, stamp: Buffer): void;
}

/** What a simulated transaction reaches of its cluster (the `SimulatedCluster` is the one implementation). */
export interface ClusterPort {
  readonly store: VersionedStore;
  readVersion(): bigint;
  commit(request: CommitRequest): bigint;
  watch(key: string, valueAtCommit: Buffer | undefined): { changed: Promise<boolean>; cancel: () => void };
  tooOld(startedAt: number): boolean;
}
