import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The append-only record of a chaos run. Every process writes its own file (`<role>-<pid>.jsonl`), one
 * JSON line per fact, with a synchronous append: a SIGKILL can cut only the last line, which the
 * reader drops. Nothing is ever rewritten.
 */
export type LedgerEntry =
  /** The producer's enqueue was acknowledged: the job must reach a terminal state. */
  | { t: 'acked'; at: number; job: string; queue: string; kind: JobKind; group?: string; workersBefore?: string[]; workersAfter?: string[]; listedAt?: number }
  /** A handler began: one run of one attempt of one delivery. */
  | { t: 'start'; at: number; job: string; delivery: string; step: number; attempt: number; pid: number; worker: string; name: string; group?: string }
  /** A handler returned (`ok`) or threw. */
  | { t: 'end'; at: number; job: string; delivery: string; step: number; attempt: number; pid: number; ok: boolean }
  /** The harness did something to a process. */
  | { t: 'fault'; at: number; action: FaultAction; pid: number; role: 'worker' | 'server' | 'writer'; until?: number }
  /** A worker process started (and which queue it serves). */
  | { t: 'spawned'; at: number; pid: number; queue: string }
  /** A worker process exited. */
  | { t: 'exited'; at: number; pid: number; code: number | null; signal: string | null }
  /** A sample of the registrations the backend lists. */
  | { t: 'registrations'; at: number; queue: string; workers: { id: string; pid: number }[] };

export type JobKind = 'quick' | 'slow' | 'long' | 'flaky' | 'delayed' | 'conjunction' | 'broadcast' | 'grouped' | 'rated';
export type FaultAction = 'SIGKILL' | 'SIGTERM' | 'SIGINT' | 'SIGSTOP' | 'SIGCONT' | 'restart' | 'killed-in-transaction';

/** Appends entries to this process's ledger file. */
export class LedgerWriter {
  private readonly file: string;

  constructor(dir: string, role: string) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${role}-${process.pid}.jsonl`);
  }

  write(entry: LedgerEntry): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}

/** Every entry of every file in `dir`; a torn last line (a process killed mid-append) is dropped. */
export function readLedger(dir: string): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as LedgerEntry);
      } catch {
        // Only a torn final line can fail to parse.
      }
    }
  }
  return entries.sort((a, b) => a.at - b.at);
}
