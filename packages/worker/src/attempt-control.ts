import { SkqError } from '@skq/core';

/**
 * How a worker ends a running attempt early (timeout, cancellation, a rough stop). The handler's
 * `AbortSignal` is made only when the handler asks for it: most handlers never do, and an
 * AbortController per job is a measurable share of a no-op job's cost.
 *
 * @example
 * ```ts
 * import { SkqError } from '@skq/core';
 *
 * const control = new AttemptControl();
 * control.onAbort((reason) => console.log('aborted:', reason));
 * control.abort(new SkqError('CANCELLED', 'job was cancelled'));
 * ```
 */
export class AttemptControl {
  private controller: AbortController | null = null;
  /** Told of the abort: nearly every attempt has one listener (its runner), so an array only for more. */
  private listener: ((reason: unknown) => void) | null = null;
  private moreListeners: ((reason: unknown) => void)[] | null = null;
  private abortedWith: { reason: unknown } | null = null;
  /**
   * Set by the worker's lease keeper: resolves whether the attempt still holds its lease, renewing
   * it first if it may have run out, and aborts the attempt if it does not. A conjunction asks before
   * each further part (`part` names it, e.g. "part 2 of 3"), so a worker that was stalled (paused,
   * starved of CPU) past its lease starts no further part of a job another worker may have taken back.
   */
  leaseCheck: ((part: string) => Promise<boolean>) | null = null;

  /** The signal handed to the handler, created on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortedWith !== null;
  }

  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  /** Ends the attempt with `reason`; later calls are ignored. */
  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const { listener, moreListeners } = this;
    this.listener = this.moreListeners = null;
    listener?.(reason);
    if (moreListeners) for (const more of moreListeners) more(reason);
  }

  /** Calls `listener` once when the attempt is aborted (at once if it already was). */
  onAbort(listener: (reason: unknown) => void): void {
    if (this.abortedWith) listener(this.abortedWith.reason);
    else if (!this.listener) this.listener = listener;
    else (this.moreListeners ??= []).push(listener);
  }
}

/**
 * The abort reason of an attempt stopped by a rough stop (SIGINT): its job goes back to the queue at once.
 *
 * @example
 * ```ts
 * controller.abort(interrupted(workerId));
 * ```
 */
export function interrupted(workerId: string): SkqError {
  return new SkqError('INTERRUPTED', 'the worker was stopped roughly (SIGINT)', { context: { workerId } });
}

/**
 * The abort reason of a cancelled job.
 *
 * @example
 * ```ts
 * worker.abort(event.deliveryId, cancellationError(event.jobId, event.queue));
 * ```
 */
export function cancellationError(jobId: string, queue: string): SkqError {
  return new SkqError('CANCELLED', `job ${jobId} was cancelled`, { context: { jobId, queue } });
}
