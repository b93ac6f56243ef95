import type pg from 'pg';
import { quoteIdentifier } from './sql-text.js';

/**
 * Dead row versions cleaned by the processes that make them. Every step of a job rewrites its row
 * (its state is in the partial indexes' predicates, so no update is HOT) and retention deletes it:
 * a busy queue leaves thousands of dead versions a second, while autovacuum looks at a table at most
 * once per `autovacuum_naptime` (a minute by default), server-wide. So a process that wrote runs
 * `VACUUM (SKIP_LOCKED)` on the jobs table at most once per `everyMs`: it takes no lock that writers
 * wait for, and skips when another process's VACUUM is at work. The table then stays the size of
 * what it holds. `everyMs` 0 leaves it to autovacuum (whose thresholds on the table are set low).
 */
export class TableUpkeep {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;
  private warned = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly everyMs: number,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  /** This process committed writes: clean within `everyMs`. */
  wrote(): void {
    if (this.everyMs === 0 || this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.clean(), this.everyMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async clean(): Promise<void> {
    this.timer = null;
    if (this.running || this.closed) return;
    this.running = true;
    try {
      await this.pool.query(`VACUUM (SKIP_LOCKED) ${quoteIdentifier(this.schema)}.jobs`);
    } catch (err) {
      // A server restarting, or a role that may not vacuum: autovacuum still does, only later.
      if (!this.warned) this.warn('could not VACUUM the jobs table (autovacuum will)', err);
      this.warned = true;
    } finally {
      this.running = false;
    }
  }
}
