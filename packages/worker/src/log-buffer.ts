import { fitLogLine, type LogLine, type StorageBackend } from '@skq/core';

/** Lines one attempt keeps while the store does not take them; past either bound the oldest go, and a line says how many. */
export const MAX_PENDING_LOG_LINES = 100_000;
export const MAX_PENDING_LOG_BYTES = 64 * 1024 * 1024;

/**
 * The log lines of one attempt on their way to the store. A line leaves the buffer only once a
 * write of it succeeded: a failed write puts its lines back, ahead of those logged meanwhile, for
 * the next flush. Writes go one at a time, so each line is stored once and in order. Lines are cut
 * to what the store keeps (`fitLogLine`); memory is bounded by {@link MAX_PENDING_LOG_LINES} and
 * {@link MAX_PENDING_LOG_BYTES}, and lines dropped past them are counted in a line of their own.
 *
 * @example
 * ```ts
 * const logs = new LogBuffer(delivery.id, valueLimit(backend.capabilities));
 * logs.push({ stream: 'log', line: 'hello' });
 * await logs.write(backend, delivery.queue); // throws if the store refused; the lines stay
 * ```
 */
export class LogBuffer {
  private pending: LogLine[] = [];
  private bytes = 0;
  private dropped = 0;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly deliveryId: string,
    private readonly maxLineBytes: number,
  ) {}

  /** Lines not yet stored (including a write in flight). */
  get size(): number {
    return this.pending.length + (this.dropped ? 1 : 0);
  }

  push(line: Omit<LogLine, 'deliveryId' | 'at'>): void {
    this.restore(fitLogLine({ ...line, deliveryId: this.deliveryId, at: Date.now() }, this.maxLineBytes));
  }

  /** Writes every pending line; rejects with the store's error, keeping the lines for the next write. */
  async write(backend: StorageBackend, queue: string): Promise<void> {
    while (this.writing) await this.writing.catch(() => {});
    if (this.size === 0) return;
    const batch = this.pending;
    const dropped = this.dropped;
    this.pending = [];
    this.bytes = 0;
    this.dropped = 0;
    const lines = dropped
      ? [{ deliveryId: this.deliveryId, at: batch[0]?.at ?? Date.now(), stream: 'warn' as const, line: `[skunq] ${dropped} earlier log lines were dropped: the store did not take them while more than ${MAX_PENDING_LOG_LINES} lines or ${MAX_PENDING_LOG_BYTES} bytes waited` }, ...batch]
      : batch;
    this.writing = backend.appendLogs(queue, lines).then(
      () => {
        this.writing = null;
      },
      (err: unknown) => {
        this.writing = null;
        // Back in front of what was logged meanwhile, in order, still within the bounds.
        const logged = this.pending;
        this.pending = [];
        this.dropped = dropped;
        for (const line of [...batch, ...logged]) this.restore(line);
        throw err;
      },
    );
    return this.writing;
  }

  private restore(line: LogLine): void {
    this.pending.push(line);
    this.bytes += line.line.length;
    while (this.pending.length > MAX_PENDING_LOG_LINES || this.bytes > MAX_PENDING_LOG_BYTES) {
      this.bytes -= this.pending.shift()!.line.length;
      this.dropped += 1;
    }
  }
}
