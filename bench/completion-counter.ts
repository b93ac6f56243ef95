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
