import type pg from 'pg';
import { quoteIdentifier } from './sql-text.js';

/** Row versions this process may leave dead before it vacuums without waiting for `everyMs`. */
const VACUUM_AFTER_VERSIONS = 10_000;
/** A VACUUM may take at most this share of the time between two: the next waits four times as long as the last took. */
const VACUUM_DUTY = 0.2;

/**
 * Dead row versions cleaned by the processes that make them. Every step of a job rewrites its row
 * (its state is in the partial indexes' predicates, so no update is HOT) and retention deletes it:
 * a busy queue leaves thousands of dead versions a second, while autovacuum looks at a table at most
 * once per `autovacuum_naptime` (a minute by default), server-wide. So a process that wrote runs
 * `VACUUM (SKIP_LOCKED)` on the jobs table within `everyMs`, and sooner once it has made
 * {@link VACUUM_AFTER_VERSIONS} dead versions, so that a table grows by a bounded number of versions
 * at any rate; never more than a fifth of the time, as a big table takes longer to vacuum. It takes no
 * lock that writers wait for, and skips when another process's VACUUM is at work. `everyMs` 0 leaves
 * it to autovacuum (whose thresholds on the table are set low).
 */
export class TableUpkeep {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private running = false;
  private closed = false;
  private warned = false;
  /** Row versions made dead since the last VACUUM began. */
  private versions = 0;
  /** When the last VACUUM ended, and how long it took. */
  private lastEnd = 0;
  private lastTook = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly everyMs: number,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  /** This process committed writes that left `versions` row versions dead: clean within `everyMs`, or sooner. */
  wrote(versions = 1): void {
    if (this.everyMs === 0 || this.closed) return;
    this.versions += versions;
    // The VACUUM at work began before these versions died: the next is planned when it ends.
    if (this.running || this.versions === 0) return;
    const now = Date.now();
    const earliest = this.lastEnd + this.lastTook / VACUUM_DUTY;
    const due = this.versions >= VACUUM_AFTER_VERSIONS ? Math.max(now, earliest) : Math.max(now + this.everyMs, earliest);
    if (due >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => void this.clean(), due - now);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async clean(): Promise<void> {
    this.timer = null;
    this.dueAt = Infinity;
    if (this.closed || this.running) return;
    this.running = true;
    this.versions = 0;
    const started = Date.now();
    try {
      await this.pool.query(`VACUUM (SKIP_LOCKED) ${quoteIdentifier(this.schema)}.jobs`);
    } catch (err) {
      // A server restarting, or a role that may not vacuum: autovacuum still does, only later.
      if (!this.warned) this.warn('could not VACUUM the jobs table (autovacuum will)', err);
      this.warned = true;
    } finally {
      this.running = false;
      this.lastEnd = Date.now();
      this.lastTook = this.lastEnd - started;
    }
    this.wrote(0);
  }
}
