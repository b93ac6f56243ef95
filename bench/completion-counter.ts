// Shared by the benchmarks: counts handled jobs and resolves once a given number is reached.
export function counter(): { bump(): void; done(count: number): Promise<void> } {
  let seen = 0;
  let want = Infinity;
  let resolve: (() => void) | null = null;
  return {
    bump() {
      seen += 1;
      if (seen >= want) resolve?.();
    },
    done(count) {
      want = count;
      return seen >= count ? Promise.resolve() : new Promise((r) => (resolve = r));
    },
  };
}

/**
 * Counts a worker pool's succeeded attempts through its `onAttemptEnd`, which is called once the backend has
 * answered the attempt's completion (where `stats().succeeded` counts it), without polling the pool.
 */
export function succeededCounter(): { onAttemptEnd(ended: { outcome: string }): void; done(count: number): Promise<void> } {
  const completed = counter();
  return {
    onAttemptEnd(ended) {
      if (ended.outcome === 'succeeded') completed.bump();
    },
    done: completed.done,
  };
}
