// Shared by the benchmarks: Sidequest set up for speed the way its docs suggest for one process
// (`fork: false`, `runner: 'inline'`), its dashboard off, on the given backend driver.
export function sidequestOptions(driver: string, config: string, concurrency: number) {
  return {
    backend: { driver, config },
    queues: [{ name: 'bench', concurrency }],
    maxConcurrentJobs: concurrency,
    dashboard: { enabled: false },
    fork: false,
    runner: 'inline' as const,
    logger: { level: 'error' as const },
    gracefulShutdown: false,
  };
}
