import type pg from 'pg';
import { quoteIdentifier } from './sql-text.js';

/** Row versions this process may leave dead before it vacuums without waiting for `everyMs`. */
const VACUUM_AFTER_VERSIONS = 10_000;

/**
 * Dead row versions cleaned by the processes that make them. Every step of a job rewrites its row
 * (its state is in the partial indexes' predicates, so no update is HOT) and retention deletes it:
 * a busy queue leaves thousands of dead versions a second, while autovacuum looks at a table at most
 * once per `autovacuum_naptime` (a minute by default), server-wide. So a process that wrote runs
 * `VACUUM (SKIP_LOCKED, TRUNCATE false)` on the jobs table within `everyMs`, and sooner once it has made
 * {@link VACUUM_AFTER_VERSIONS} dead versions, one VACUUM at a time: the table then holds what it
 * holds plus the versions that died during one VACUUM, at any rate. (Spacing VACUUMs by their own
 * length fed back: a bigger table took longer, so the next came later, and the table grew more:
 * 79 to 145 MB over the last 400,000 jobs of the soak.) It takes no lock that writers wait for, and
 * skips when another process's VACUUM is at work. It leaves the empty pages at the table's end to the
 * next jobs: giving them back takes a lock that every claim and enqueue waits for (stalls of 50 ms
 * and more at 200 jobs a second, once a quiet queue's jobs were all deleted). `everyMs` 0 leaves it to
 * autovacuum (whose thresholds on the table are set low).
 */
export class TableUpkeep {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private running = false;
  private closed = false;
  private warned = false;
  /** Row versions made dead since the last VACUUM began. */
  private versions = 0;

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
    const due = this.versions >= VACUUM_AFTER_VERSIONS ? now : now + this.everyMs;
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
    try {
      await this.pool.query(`VACUUM (SKIP_LOCKED, TRUNCATE false) ${quoteIdentifier(this.schema)}.jobs`);
    } catch (err) {
      // A server restarting, or a role that may not vacuum: autovacuum still does, only later.
      if (!this.warned) this.warn('could not VACUUM the jobs table (autovacuum will)', err);
      this.warned = true;
    } finally {
      this.running = false;
    }
    this.wrote(0);
  }
}
