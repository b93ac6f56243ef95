import { CLAIM_BY_TURNS_SQL } from './claim-by-turns.js';

/**
 * The PostgreSQL schema, version 6 (version 1 and what changed since), in its own PostgreSQL schema (`skunq` unless configured; written
 * `{s}` here and quoted when the statements are made, see `sql-text.ts`).
 *
 * One row per delivery, carrying its job: a direct job with one route (the common case) is one row,
 * and each step of it is one statement on that row. A job with several deliveries (several routes,
 * or a broadcast) repeats its header in each of its rows, and its first row (`dix` 0) carries the
 * job's end; a broadcast nobody listened to is one row with `dix` -1 and no route.
 *
 * Indexes only where a query needs one: the id (the primary key: lookups, idempotent enqueue), due rows per route in
 * claim order (partial: queued rows only), running rows by lease end (recovery, the running tab),
 * ended rows by end time (retention, the ended tabs), pending dedupe keys, and queued broadcast rows
 * by worker. No row per lifecycle step: events go out with NOTIFY at commit. State counts are read
 * from the rows (no counter rows, which every transaction would queue on); throughput is counted per
 * minute in rows striped by writer, so that concurrent transactions do not wait for one row's lock.
 *
 * Times are epoch milliseconds (bigint); states and flags are small integers.
 */
export const SCHEMA_VERSION = 6;

/** Delivery states as stored. */
export { RELATIONAL_STATE_CODE as STATE_CODE, RELATIONAL_STATE_NAME as STATE_NAME } from '@skq/core/backend';

/** How many rows of throughput each minute and route may have: writers pick one at random. */
export const THROUGHPUT_STRIPES = 16;

/**
 * Version 2: a job's id and delivery index are the primary key, and the row key `k` (enqueue order,
 * in the claim, listing and retention indexes) has no index of its own, which no statement used but
 * the claim (that finds its locked rows by ctid now). Every step of a job rewrites its row and each of
 * the table's indexes takes an entry for the new version: one index fewer is less work per step, and
 * about 25 bytes less per job.
 */
export const SCHEMA_V2_SQL = `
ALTER TABLE {s}.jobs DROP CONSTRAINT jobs_pkey;
ALTER TABLE {s}.jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY USING INDEX jobs_id;
`;

/** The jobs table's columns, as version 3 orders them. */
const V3_COLUMNS = `k, created_at, run_at, lease_until, started_at, finished_at, ended_at, dix, priority, attempts, max_attempts, recoveries,
  fanout, state, broadcast, cancel_requested, ended_bad, id, queue, route, target_worker, name, args, routes, options, dedupe_key, worker_id,
  outcome, progress`;

/**
 * Version 3: the jobs table rewritten with its columns in order of alignment (8-byte, 4-byte, 2-byte,
 * 1-byte, then text), so that a row carries no padding between them: a queued job's row 11 bytes
 * shorter (16 on its page, where rows are aligned to 8). The index of queued rows packs its pages full (fillfactor 100): its rows go in at its end
 * in claim order, and leave it when claimed, so a full page does not split from updates. Row keys and
 * their numbering carry over; every other index is made again as version 2 had it.
 */
export const SCHEMA_V3_SQL = `
ALTER TABLE {s}.jobs RENAME TO jobs_v2;
ALTER TABLE {s}.jobs_v2 DROP CONSTRAINT jobs_pkey;
DROP INDEX {s}.jobs_queued, {s}.jobs_running, {s}.jobs_ended, {s}.jobs_dedupe, {s}.jobs_addressed;
CREATE TABLE {s}.jobs (
  k                bigint GENERATED ALWAYS AS IDENTITY,
  created_at       bigint NOT NULL,
  run_at           bigint NOT NULL,
  lease_until      bigint,
  started_at       bigint,
  finished_at      bigint,
  ended_at         bigint,
  dix              integer NOT NULL,
  priority         integer NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  recoveries       integer NOT NULL DEFAULT 0,
  fanout           integer,
  state            smallint NOT NULL,
  broadcast        boolean,
  cancel_requested boolean,
  ended_bad        boolean,
  id               text NOT NULL,
  queue            text NOT NULL,
  route            text,
  target_worker    text,
  name             text NOT NULL,
  args             text NOT NULL,
  routes           text,
  options          text,
  dedupe_key       text,
  worker_id        text,
  outcome          text,
  progress         text
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
INSERT INTO {s}.jobs (${V3_COLUMNS}) OVERRIDING SYSTEM VALUE SELECT ${V3_COLUMNS} FROM {s}.jobs_v2 ORDER BY k;
SELECT setval(pg_get_serial_sequence('{s}.jobs', 'k'), COALESCE((SELECT MAX(k) FROM {s}.jobs), 0) + 1, false);
DROP TABLE {s}.jobs_v2;
ALTER TABLE {s}.jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY (id, dix);
CREATE INDEX jobs_queued ON {s}.jobs (queue, route, priority DESC, run_at, k) WITH (fillfactor = 100) WHERE state = 0;
CREATE INDEX jobs_running ON {s}.jobs (queue, lease_until, k) WHERE state = 1;
CREATE INDEX jobs_ended ON {s}.jobs (queue, ended_bad, ended_at, k) WHERE ended_at IS NOT NULL;
CREATE INDEX jobs_dedupe ON {s}.jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND ended_at IS NULL;
CREATE INDEX jobs_addressed ON {s}.jobs (queue, target_worker) WHERE target_worker IS NOT NULL AND state = 0;
`;

/**
 * Version 4: groups. A job's group (`grp`); the queued index holds the jobs without a group, and two
 * partial indexes the grouped ones (queued, per route and group in claim order; running, per group).
 * Limits are rows of `limits` (scope 0: a group, '*' the default; scope 1: a route). Claims take turns
 * among a route's groups in key order from where the last claim stopped (`group_cursors`), so no row
 * per group is kept for turns; `starts` logs the starts a rate window counts, for keys with a rate
 * only; `group_holds` keeps the groups a RateLimited holds. The claim of grouped or limited routes is
 * the function `claim_by_turns` (`claim-by-turns.ts`). Adding the column rewrites nothing; the queued
 * index is made again.
 */
export const SCHEMA_V4_SQL = `
ALTER TABLE {s}.jobs ADD COLUMN grp text;
DROP INDEX {s}.jobs_queued;
CREATE INDEX jobs_queued ON {s}.jobs (queue, route, priority DESC, run_at, k) WITH (fillfactor = 100) WHERE state = 0 AND grp IS NULL;
CREATE INDEX jobs_group_queued ON {s}.jobs (queue, route, grp, priority DESC, run_at, k) WHERE state = 0 AND grp IS NOT NULL;
CREATE INDEX jobs_group_running ON {s}.jobs (queue, grp) WHERE state = 1 AND grp IS NOT NULL;
CREATE TABLE {s}.limits (
  queue       text NOT NULL,
  scope       smallint NOT NULL,
  key         text NOT NULL,
  concurrency integer,
  rate_max    integer,
  rate_per_ms bigint,
  PRIMARY KEY (queue, scope, key)
);
CREATE TABLE {s}.group_cursors (
  queue text NOT NULL,
  route text NOT NULL,
  grp   text NOT NULL,
  PRIMARY KEY (queue, route)
);
CREATE TABLE {s}.group_holds (
  queue text NOT NULL,
  grp   text NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (queue, grp)
);
CREATE TABLE {s}.starts (
  queue text NOT NULL,
  scope smallint NOT NULL,
  key   text NOT NULL,
  at    bigint NOT NULL
);
CREATE INDEX starts_by_key ON {s}.starts (queue, scope, key, at);
${CLAIM_BY_TURNS_SQL}
`;

/**
 * Version 5: the function `claim_by_turns` made again. In version 4 a claim's round ended only on
 * meeting the group where its takes stopped; had that group emptied meanwhile (another claim took
 * its last job), the round went on for ever, holding every group's lock.
 */
export const SCHEMA_V5_SQL = CLAIM_BY_TURNS_SQL;

/**
 * Version 6: which event types of a queue some subscriber hears, and until when (server time, epoch
 * ms). Statements publish an event type only while it is heard: a worker pool nobody watches pays
 * for no `started` or `succeeded` notification (see `published` in sql-text.ts).
 */
export const SCHEMA_V6_SQL = `
CREATE TABLE {s}.listeners (
  queue text NOT NULL,
  type  text NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (queue, type)
);
`;

/** Version 1, created in an empty schema under the migration lock (`schema-migration.ts`). */
export const SCHEMA_V1_SQL = `
CREATE TABLE {s}.jobs (
  k                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text NOT NULL,
  dix              integer NOT NULL,
  queue            text NOT NULL,
  route            text,
  target_worker    text,
  name             text NOT NULL,
  args             text NOT NULL,
  routes           text,
  broadcast        boolean,
  fanout           integer,
  priority         integer NOT NULL,
  created_at       bigint NOT NULL,
  options          text,
  dedupe_key       text,
  state            smallint NOT NULL,
  run_at           bigint NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  recoveries       integer NOT NULL DEFAULT 0,
  worker_id        text,
  lease_until      bigint,
  started_at       bigint,
  finished_at      bigint,
  outcome          text,
  progress         text,
  cancel_requested boolean,
  ended_at         bigint,
  ended_bad        boolean
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
CREATE UNIQUE INDEX jobs_id ON {s}.jobs (id, dix);
CREATE INDEX jobs_queued ON {s}.jobs (queue, route, priority DESC, run_at, k) WHERE state = 0;
CREATE INDEX jobs_running ON {s}.jobs (queue, lease_until, k) WHERE state = 1;
CREATE INDEX jobs_ended ON {s}.jobs (queue, ended_bad, ended_at, k) WHERE ended_at IS NOT NULL;
CREATE INDEX jobs_dedupe ON {s}.jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND ended_at IS NULL;
CREATE INDEX jobs_addressed ON {s}.jobs (queue, target_worker) WHERE target_worker IS NOT NULL AND state = 0;

CREATE TABLE {s}.logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      text NOT NULL,
  delivery_id text NOT NULL,
  at          bigint NOT NULL,
  stream      text NOT NULL,
  line        text NOT NULL
);
CREATE INDEX logs_by_job ON {s}.logs (job_id, id);

CREATE TABLE {s}.workers (
  id              text PRIMARY KEY,
  queue           text NOT NULL,
  routes          text NOT NULL,
  hostname        text NOT NULL,
  pid             integer NOT NULL,
  started_at      bigint NOT NULL,
  last_seen_at    bigint NOT NULL,
  expires_at      bigint NOT NULL,
  state           text NOT NULL DEFAULT 'running',
  running_job_ids text NOT NULL DEFAULT '[]',
  command         text
);
CREATE INDEX workers_by_queue ON {s}.workers (queue, expires_at);

CREATE TABLE {s}.paused (
  queue text NOT NULL,
  route text NOT NULL,
  since bigint NOT NULL,
  PRIMARY KEY (queue, route)
);

CREATE TABLE {s}.throughput (
  queue     text NOT NULL,
  route     text NOT NULL,
  minute    bigint NOT NULL,
  stripe    smallint NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  failed    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, minute, route, stripe)
);

CREATE TABLE {s}.call_records (
  seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue  text NOT NULL,
  name   text NOT NULL,
  at     bigint NOT NULL,
  record text NOT NULL
);
CREATE INDEX call_records_by_name ON {s}.call_records (queue, name, seq);

CREATE TABLE {s}.schedules (
  queue          text NOT NULL,
  id             text NOT NULL,
  definition     text NOT NULL,
  state          text,
  next_run_at    bigint,
  waiting_job_id text,
  paused         boolean NOT NULL DEFAULT false,
  fired_count    integer NOT NULL DEFAULT 0,
  last_fired_at  bigint,
  last_job_id    text,
  version        integer NOT NULL DEFAULT 1,
  created_at     bigint NOT NULL,
  updated_at     bigint NOT NULL,
  PRIMARY KEY (queue, id)
);

-- The directory of queue names (a queue is added by its first enqueue), for the monitor.
CREATE TABLE {s}.queues (name text PRIMARY KEY);

-- Numbers the transactions that publish events: an event's seq is its transaction's number and its place in it.
CREATE SEQUENCE {s}.event_batches;
`;
