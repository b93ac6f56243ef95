import { isSkqError, type LogLine } from '@skq/core';
import { fitLogLine, type StorageBackend } from '@skq/core/backend';

/** Lines a worker process keeps, all its attempts together, while the store does not take them; past either bound the oldest go, and a line says how many. */
export const MAX_PENDING_LOG_LINES = 100_000;
/** Bytes (UTF-8) of log lines a worker process keeps, all its attempts together, while the store does not take them. */
export const MAX_PENDING_LOG_BYTES = 64 * 1024 * 1024;

/** Below this many spent slots the queue is not compacted: copying often would cost more than it frees. */
const COMPACT_AFTER = 1_024;

/**
 * The memory the log lines of many attempts share: a bound on lines and on UTF-8 bytes. A line
 * pushed past either bound makes the oldest line waiting anywhere under the budget go (never one
 * whose write is in flight), so one chatty attempt cannot hold more than the whole process may.
 *
 * @example
 * ```ts
 * const budget = new LogBudget(1_000_000, 10_000);
 * const a = new LogBuffer('job-a.0', 90_000, budget);
 * const b = new LogBuffer('job-b.0', 90_000, budget); // a and b together hold at most 1 MB
 * ```
 */
export class LogBudget {
  bytes = 0;
  lines = 0;
  private readonly holders = new Set<LogBuffer>();

  constructor(
    readonly maxBytes: number = MAX_PENDING_LOG_BYTES,
    readonly maxLines: number = MAX_PENDING_LOG_LINES,
  ) {}

  /** `holder` took a line of `bytes`: past a bound, the oldest lines that can go, go. */
  charge(holder: LogBuffer, bytes: number): void {
    this.bytes += bytes;
    this.lines += 1;
    this.holders.add(holder);
    while (this.lines > this.maxLines || this.bytes > this.maxBytes) {
      let oldest: LogBuffer | null = null;
      let at = Infinity;
      for (const buffer of this.holders) {
        const first = buffer.oldestDroppable();
        if (first < at) [oldest, at] = [buffer, first];
      }
      if (!oldest) return;
      oldest.dropOldest();
    }
  }

  /** `holder` let go of `lines` lines of `bytes` in all; `empty` once it holds none. */
  release(holder: LogBuffer, bytes: number, lines: number, empty: boolean): void {
    this.bytes -= bytes;
    this.lines -= lines;
    if (empty) this.holders.delete(holder);
  }
}

/** The budget every attempt of this worker process shares unless given its own. */
export const processLogBudget = new LogBudget();

/** A write in flight: the lines it took, whether a dropped-lines marker went ahead of them, and when it ends. */
interface InFlight {
  lines: LogLine[];
  marker: number;
  settled: Promise<void>;
  settle: () => void;
}

/**
 * The log lines of one attempt on their way to the store. A line leaves the buffer only once a
 * write of it succeeded: a failed write puts back the lines it did not store (a store that writes in
 * several transactions says how many it stored in the error's `context.linesStored`), ahead of those
 * logged meanwhile, for the next write. Writes of one buffer go one at a time, so each line is stored
 * once and in order. Lines are cut to what the store keeps (`fitLogLine`); memory is bounded by a
 * {@link LogBudget} the process's attempts share, and lines dropped past it are counted in a line of
 * their own. Dropping the oldest line is O(1) amortised.
 *
 * @example
 * ```ts
 * const logs = new LogBuffer(delivery.id, valueLimit(backend.capabilities));
 * logs.push({ stream: 'log', line: 'hello' });
 * await logs.write(backend, delivery.queue); // throws if the store refused; the lines stay
 * ```
 */
export class LogBuffer {
  /** Lines waiting, from `head` on; slots before `head` are spent. */
  private lines: (LogLine | undefined)[] = [];
  private head = 0;
  private dropped = 0;
  /** UTF-8 bytes of the lines held (waiting and in flight), as charged to the budget. */
  private heldBytes = 0;
  private inFlight: InFlight | null = null;

  constructor(
    private readonly deliveryId: string,
    private readonly maxLineBytes: number,
    private readonly budget: LogBudget = processLogBudget,
  ) {}

  /** Lines not yet stored (including a write in flight, and the line that counts dropped ones). */
  get size(): number {
    const marker = this.dropped || this.inFlight?.marker ? 1 : 0;
    return this.lines.length - this.head + (this.inFlight?.lines.length ?? 0) + marker;
  }

  push(line: Omit<LogLine, 'deliveryId' | 'at'>): void {
    const fitted = fitLogLine({ ...line, deliveryId: this.deliveryId, at: Date.now() }, this.maxLineBytes);
    const bytes = Buffer.byteLength(fitted.line);
    this.lines.push(fitted);
    this.heldBytes += bytes;
    this.budget.charge(this, bytes);
  }

  /** Writes every pending line; rejects with the store's error, keeping the lines it did not store for the next write. */
  async write(backend: StorageBackend, queue: string): Promise<void> {
    while (this.inFlight) await this.inFlight.settled;
    await writeLogBuffers(backend, queue, [this]);
  }

  /** The lines for one write, marked in flight; null while a write of this buffer is in flight or nothing waits. */
  take(): LogLine[] | null {
    if (this.inFlight || (this.head === this.lines.length && !this.dropped)) return null;
    const lines = this.lines.slice(this.head) as LogLine[];
    this.lines = [];
    this.head = 0;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.inFlight = { lines, marker: this.dropped, settled, settle };
    this.dropped = 0;
    if (!this.inFlight.marker) return lines;
    const note = `[skunq] ${this.inFlight.marker} earlier log lines were dropped: the store did not take them while more than ${this.budget.maxLines} lines or ${this.budget.maxBytes} bytes waited in this worker`;
    return [{ deliveryId: this.deliveryId, at: lines[0]?.at ?? Date.now(), stream: 'warn', line: note }, ...lines];
  }

  /** The write of what {@link LogBuffer.take} gave ended with its first `stored` lines stored: the rest go back in front. */
  settle(stored: number): void {
    const flight = this.inFlight;
    if (!flight) return;
    this.inFlight = null;
    let n = stored;
    if (flight.marker) {
      if (n > 0) n -= 1;
      else this.dropped += flight.marker;
    }
    n = Math.min(n, flight.lines.length);
    let bytes = 0;
    for (let i = 0; i < n; i += 1) bytes += Buffer.byteLength(flight.lines[i]!.line);
    this.heldBytes -= bytes;
    if (n < flight.lines.length) {
      this.lines = [...flight.lines.slice(n), ...this.lines.slice(this.head)];
      this.head = 0;
    }
    this.budget.release(this, bytes, n, this.heldLines() === 0);
    flight.settle();
  }

  /** Lets go of every line (the attempt is over and they are reported lost); how many there were. */
  discard(): number {
    // Nearly every attempt logs nothing: nothing to give back.
    if (this.lines.length === 0 && !this.inFlight && this.dropped === 0 && this.heldBytes === 0) return 0;
    const count = this.size;
    this.budget.release(this, this.heldBytes, this.heldLines(), true);
    this.lines = [];
    this.head = 0;
    this.heldBytes = 0;
    this.dropped = 0;
    return count;
  }

  /** When the oldest line that may be dropped was logged (Infinity: none). */
  oldestDroppable(): number {
    return this.head < this.lines.length ? this.lines[this.head]!.at : Infinity;
  }

  /** Drops the oldest waiting line, counting it: O(1), with a compaction now and then that copies at most what is left. */
  dropOldest(): void {
    const line = this.lines[this.head];
    if (!line) return;
    this.lines[this.head] = undefined;
    this.head += 1;
    this.dropped += 1;
    const bytes = Buffer.byteLength(line.line);
    this.heldBytes -= bytes;
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
    this.budget.release(this, bytes, 1, this.heldLines() === 0);
  }

  private heldLines(): number {
    return this.lines.length - this.head + (this.inFlight?.lines.length ?? 0);
  }
}

/**
 * One write of the waiting lines of several attempts of one queue (skipping a buffer whose own
 * write is in flight), so a flush costs the store one call however many jobs run. A failure puts
 * back, in each buffer, the lines the store did not store, and rejects with its error.
 *
 * @example
 * ```ts
 * await writeLogBuffers(backend, 'emails', runs.map((run) => run.logs));
 * ```
 */
export async function writeLogBuffers(backend: StorageBackend, queue: string, buffers: LogBuffer[]): Promise<void> {
  const taken: [LogBuffer, LogLine[]][] = [];
  for (const buffer of buffers) {
    const lines = buffer.take();
    if (lines) taken.push([buffer, lines]);
  }
  if (taken.length === 0) return;
  const all = taken.flatMap(([, lines]) => lines);
  const settle = (stored: number) => {
    let left = stored;
    for (const [buffer, lines] of taken) {
      const n = Math.min(left, lines.length);
      buffer.settle(n);
      left -= n;
    }
  };
  try {
    await backend.appendLogs(queue, all);
  } catch (err) {
    settle(linesStored(err, all.length));
    throw err;
  }
  settle(all.length);
}

/** How many lines, from the first, a failed write stored: what its error says, else none. */
function linesStored(err: unknown, sent: number): number {
  const stored = isSkqError(err) ? err.context.linesStored : undefined;
  return typeof stored === 'number' && Number.isSafeInteger(stored) && stored > 0 ? Math.min(stored, sent) : 0;
}
