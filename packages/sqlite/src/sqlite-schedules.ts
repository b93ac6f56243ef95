import type Database from 'better-sqlite3';
import { scheduleFingerprint, scheduleSaveOutcome, type NewJob, type ScheduleDefinition, type ScheduleFiring, type ScheduleRecord, type ScheduleSaveOutcome } from '@skq/core';

type Db = InstanceType<typeof Database>;

interface ScheduleRow {
  queue: string;
  id: string;
  definition: string;
  state: string | null;
  next_run_at: number | null;
  waiting_job_id: string | null;
  paused: number;
  fired_count: number;
  last_fired_at: number | null;
  last_job_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

/** The schedule half of the SQLite backend. Every method runs inside the backend's write or read wrapper. */
export class SqliteSchedules {
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(db: Db) {
    this.stmt = prepare(db);
  }

  save(queue: string, def: ScheduleDefinition, now: number): ScheduleSaveOutcome {
    const definition = scheduleFingerprint(def);
    const existing = this.stmt.get.get(queue, def.id) as ScheduleRow | undefined;
    const outcome = scheduleSaveOutcome(existing?.definition, definition);
    if (outcome === 'unchanged') return outcome;
    (outcome === 'created' ? this.stmt.insert : this.stmt.redefine).run({ queue, id: def.id, definition, state: json(def.state), next_run_at: def.nextRunAt, now });
    return outcome;
  }

  list(queue: string): ScheduleRecord[] {
    return (this.stmt.list.all(queue) as ScheduleRow[]).map(toRecord);
  }

  setPaused(queue: string, id: string, paused: boolean, now: number): boolean {
    return this.stmt.pause.run(paused ? 1 : 0, now, queue, id).changes === 1;
  }

  remove(queue: string, id: string): boolean {
    return this.stmt.remove.run(queue, id).changes === 1;
  }

  /** Compare-and-set on the version; `enqueue` runs in the same transaction. */
  fire(queue: string, id: string, version: number, firing: ScheduleFiring, enqueue: (job: NewJob) => void): boolean {
    const changed = this.stmt.fire.run({
      queue,
      id,
      version,
      next_run_at: firing.nextRunAt,
      waiting_job_id: firing.waitingJobId,
      fired_at: firing.firedAt,
      job_id: firing.job.id,
    }).changes;
    if (changed !== 1) return false;
    enqueue(firing.job);
    return true;
  }

  advance(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }, now: number): boolean {
    return this.stmt.advance.run({ queue, id, version, next_run_at: next.nextRunAt, state: json(next.state), now }).changes === 1;
  }
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function toRecord(row: ScheduleRow): ScheduleRecord {
  const { rule, job } = JSON.parse(row.definition) as Pick<ScheduleRecord, 'rule' | 'job'>;
  return {
    id: row.id,
    queue: row.queue,
    rule,
    job,
    state: row.state === null ? null : JSON.parse(row.state),
    nextRunAt: row.next_run_at,
    waitingJobId: row.waiting_job_id,
    paused: row.paused === 1,
    firedCount: row.fired_count,
    lastFiredAt: row.last_fired_at,
    lastJobId: row.last_job_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function prepare(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    get: p('SELECT * FROM skq_schedules WHERE queue = ? AND id = ?'),
    list: p('SELECT * FROM skq_schedules WHERE queue = ? ORDER BY id'),
    insert: p(`INSERT INTO skq_schedules (queue, id, definition, state, next_run_at, created_at, updated_at)
      VALUES (@queue, @id, @definition, @state, @next_run_at, @now, @now)`),
    redefine: p(`UPDATE skq_schedules SET definition = @definition, state = @state, next_run_at = @next_run_at, waiting_job_id = NULL,
      version = version + 1, updated_at = @now WHERE queue = @queue AND id = @id`),
    pause: p('UPDATE skq_schedules SET paused = ?, version = version + 1, updated_at = ? WHERE queue = ? AND id = ?'),
    remove: p('DELETE FROM skq_schedules WHERE queue = ? AND id = ?'),
    fire: p(`UPDATE skq_schedules SET next_run_at = @next_run_at, waiting_job_id = @waiting_job_id, fired_count = fired_count + 1,
      last_fired_at = @fired_at, last_job_id = @job_id, version = version + 1, updated_at = @fired_at
      WHERE queue = @queue AND id = @id AND version = @version AND paused = 0`),
    advance: p(`UPDATE skq_schedules SET next_run_at = @next_run_at, state = @state, waiting_job_id = NULL, version = version + 1, updated_at = @now
      WHERE queue = @queue AND id = @id AND version = @version`),
  };
}
