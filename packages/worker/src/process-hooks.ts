// The process-wide hooks a listening worker pool installs: stop signals, and errors that escape a handler.

/**
 * Signals that finish running jobs before the pool exits.
 *
 * @example
 * ```ts
 * for (const signal of GENTLE_SIGNALS) process.on(signal, () => void pool.close('gentle'));
 * ```
 */
export const GENTLE_SIGNALS = ['SIGHUP', 'SIGABRT', 'SIGQUIT', 'SIGTERM'] as const;
/**
 * Signals that abort running jobs (they return to the queue) before the pool exits.
 *
 * @example
 * ```ts
 * for (const signal of ROUGH_SIGNALS) process.on(signal, () => void pool.close('rough'));
 * ```
 */
export const ROUGH_SIGNALS = ['SIGINT'] as const;

/** Calls `onSignal` with the kind of each stop signal the process gets; returns what takes the handlers off. */
export function handleStopSignals(onSignal: (kind: 'gentle' | 'rough') => void): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of GENTLE_SIGNALS) handlers.set(signal, () => onSignal('gentle'));
  for (const signal of ROUGH_SIGNALS) handlers.set(signal, () => onSignal('rough'));
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/**
 * Hands every error that would end the process (a rejection nobody awaits, a throw in a timer) to
 * `onEscape` with where it came from; returns what takes the handlers off.
 */
export function catchEscapedErrors(onEscape: (err: unknown, origin: 'unhandled rejection' | 'uncaught exception') => void): () => void {
  const onRejection = (reason: unknown) => onEscape(reason, 'unhandled rejection');
  const onException = (err: unknown) => onEscape(err, 'uncaught exception');
  // A closed stdout or stderr (whoever read it went away: EPIPE) is no job's error, and nothing can be
  // told through it: what goes there is dropped. Left to the handlers above, the warning about it failed
  // the same way and warned again, a loop that held the process at a full core.
  const onOutputError = () => undefined;
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.stdout.off('error', onOutputError);
    process.stderr.off('error', onOutputError);
  };
}
