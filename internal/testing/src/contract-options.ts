import type { it } from 'vitest';
import type { StorageBackend } from '@skq/core/backend';

/** Opens a connection to the store under test. Every call must reach the same store. */
export type BackendFactory = () => Promise<StorageBackend>;

/** Cases that need atomic conditional updates under a race. */
export type SkippableCase = 'racing-claims' | 'racing-schedule-fire' | 'racing-retry';

/** Cases a store cannot honour, each with the reason, which the test title then shows. */
export interface ContractOptions {
  skip?: Partial<Record<SkippableCase, string>>;
  /**
   * Damages a stored job from outside skunq, through the store's own client: its stored arguments
   * (or, where the job is one stored value, the whole value) become text that is not JSON.
   */
  damage?: (queue: string, jobId: string) => Promise<void>;
  /**
   * The store reruns a transaction whose reads were overtaken (FoundationDB). The retry race then also lets
   * the worker fail the job again while the two retries may still be in flight, so that a rerun which
   * retries a newer ending than the one it first read is caught; elsewhere the worker waits for both retries.
   */
  rerunsTransactions?: boolean;
}

/** Picks `it` or `it.skip` for a case a store may not honour, with the reason in the title. */
export type CasePicker = (key: SkippableCase, title: string) => readonly [typeof it | typeof it.skip, string];
