// Shared by the benchmarks' latency producers: fires jobs one at a time at a steady pace.

/**
 * Now in ms on the machine's monotonic clock, which every process reads alike: a producer stamps a job
 * with it and the consumer in another process compares. `performance.timeOrigin + performance.now()` is
 * each process's wall-clock start plus a monotonic interval, so two processes disagree by however much
 * the wall clock was slewed between their starts (5 ms a second on this machine at times: latencies
 * came out several ms off, even negative).
 */
export function sharedClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Fires `count` jobs, one every `intervalMs` from now, each awaited and carrying its fire time `t`
 * (ms on {@link sharedClockMs}), so that the consumer can measure enqueue-to-start latency.
 */
export async function fireAtSteadyPace(count: number, intervalMs: number, addOne: (data: { n: number; t: number }) => Promise<unknown>): Promise<void> {
  const start = performance.now();
  for (let n = 0; n < count; n += 1) {
    const wait = start + n * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await addOne({ n, t: sharedClockMs() });
  }
}
