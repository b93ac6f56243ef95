// Shared by the benchmarks' latency producers: fires jobs one at a time at a steady pace.

/**
 * Fires `count` jobs, one every `intervalMs` from now, each awaited and carrying its fire time `t`
 * (epoch ms, sub-millisecond), so that the consumer can measure enqueue-to-start latency.
 */
export async function fireAtSteadyPace(count: number, intervalMs: number, addOne: (data: { n: number; t: number }) => Promise<unknown>): Promise<void> {
  const start = performance.now();
  for (let n = 0; n < count; n += 1) {
    const wait = start + n * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await addOne({ n, t: performance.timeOrigin + performance.now() });
  }
}
