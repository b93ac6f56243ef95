/**
 * The claim of a route where grouped jobs wait or the route has limits: a PL/pgSQL function of the
 * schema (made in version 4, again in version 5), called by the `claimByTurns` statement, which
 * publishes the `started` events.
 * Every statement in it takes a fresh snapshot (READ COMMITTED, a volatile function), so what it
 * counts after taking a lock includes every claim that held the lock before.
 *
 * Turns: the route's groups with queued rows in key order, the jobs without a group before the first
 * group, starting after the group the last claim served (`group_cursors`), round and round, one
 * delivery per turn, until the limit is taken or a whole round took none. Rate windows count starts
 * by the server's clock, which also stamps the rows' start.
 * Reads: the route's limits and, with a rate, its starts in the window (under a lock on the route, so
 * that claims on a rate-limited route take turns); the default and own group limits; the cursor; the
 * next group after each (a loose scan of the grouped queued index); for each group, under a lock only
 * one claim holds at a time (a claim finding it held passes the group by), its hold, its running rows
 * (the running index) and, with a rate, its starts in the window; its next due row by priority, run
 * time and enqueue order, skipping rows another transaction holds.
 * Writes: one row per turn to running under the lease, attempts + 1; its group's start logged when it
 * has a rate; a route start per row when the route has a rate; the cursor, at the last group served
 * (unless another claim is writing it).
 * Returns: the claimed rows, then one row without an id: whether limits held due work back, and the
 * earliest instant something held back may be claimable (a hold or window ending, a later run time).
 */
export const CLAIM_BY_TURNS_SQL = `
-- The route's next group with queued rows after a key, in key order ('' after the last: the turn of the jobs without a group).
CREATE OR REPLACE FUNCTION {s}.next_group(p_queue text, p_route text, p_after text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT COALESCE(MIN(grp), '') FROM {s}.jobs WHERE queue = p_queue AND route = p_route AND state = 0 AND grp IS NOT NULL AND grp > p_after
$fn$;
CREATE OR REPLACE FUNCTION {s}.claim_by_turns(p_queue text, p_route text, p_worker text, p_now bigint, p_limit int, p_lease_until bigint)
RETURNS TABLE (k bigint, id text, dix int, target_worker text, priority int, run_at bigint, attempts int, max_attempts int,
  recoveries int, finished_at bigint, outcome text, progress text, cancel_requested boolean, name text, args text, options text,
  fanout int, grp text, started_at bigint, limited boolean, next_run_at bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_limit int := p_limit;
  v_taken int := 0;
  v_limited boolean := false;
  v_next bigint := NULL;
  v_route_rate {s}.limits%ROWTYPE;
  v_default {s}.limits%ROWTYPE;
  v_rule {s}.limits%ROWTYPE;
  v_own boolean;
  v_holds boolean;
  v_ungrouped boolean;
  v_count int;
  v_oldest bigint;
  v_until bigint;
  v_run_at bigint;
  v_found boolean;
  v_held boolean;
  v_cursor text;
  v_key text;
  v_last text;
  v_prev text;
  v_idle_since text;
  -- Rate windows run on the server's clock, so that workers' clocks cannot skew them; an instant a
  -- window opens is answered in the worker's clock (p_now plus the wait).
  v_clock bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
  SELECT * INTO v_route_rate FROM {s}.limits l WHERE l.queue = p_queue AND l.scope = 1 AND l.key = p_route;
  IF v_route_rate.rate_max IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_queue || chr(31) || p_route, 28));
    DELETE FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 1 AND s.key = p_route AND s.at <= v_clock - v_route_rate.rate_per_ms;
    SELECT COUNT(*), MIN(s.at) INTO v_count, v_oldest FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 1 AND s.key = p_route;
    IF v_count >= v_route_rate.rate_max THEN
      RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::int, NULL::text, NULL::int, NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::bigint,
        NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text, NULL::text, NULL::int, NULL::text, NULL::bigint, true, p_now + v_oldest + v_route_rate.rate_per_ms - v_clock;
      RETURN;
    END IF;
    v_limit := LEAST(p_limit, v_route_rate.rate_max - v_count);
  END IF;
  SELECT * INTO v_default FROM {s}.limits l WHERE l.queue = p_queue AND l.scope = 0 AND l.key = '*';
  v_own := EXISTS (SELECT 1 FROM {s}.limits l WHERE l.queue = p_queue AND l.scope = 0 AND l.key <> '*');
  v_holds := EXISTS (SELECT 1 FROM {s}.group_holds h WHERE h.queue = p_queue AND h.until > p_now);
  v_ungrouped := EXISTS (SELECT 1 FROM {s}.jobs j WHERE j.queue = p_queue AND j.route = p_route AND j.state = 0 AND j.grp IS NULL);
  SELECT c.grp INTO v_cursor FROM {s}.group_cursors c WHERE c.queue = p_queue AND c.route = p_route;
  IF v_cursor IS NULL THEN v_key := ''; ELSE v_key := {s}.next_group(p_queue, p_route, v_cursor); END IF;
  LOOP
    v_found := false;
    IF v_key = '' THEN
      IF v_ungrouped THEN
        UPDATE {s}.jobs j SET state = 1, worker_id = p_worker, lease_until = p_lease_until, attempts = j.attempts + 1, started_at = v_clock, cancel_requested = NULL
        WHERE j.ctid = (
          SELECT q.ctid FROM {s}.jobs q
          WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp IS NULL AND q.run_at <= p_now
            AND (q.target_worker IS NULL OR q.target_worker = p_worker)
          ORDER BY q.priority DESC, q.run_at, q.k LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING j.k, j.id, j.dix, j.target_worker, j.priority, j.run_at, j.attempts, j.max_attempts, j.recoveries, j.finished_at, j.outcome,
          j.progress, j.cancel_requested, j.name, j.args, j.options, j.fanout, j.grp, j.started_at
        INTO k, id, dix, target_worker, priority, run_at, attempts, max_attempts, recoveries, finished_at, outcome, progress, cancel_requested,
          name, args, options, fanout, grp, started_at;
        v_found := FOUND;
      END IF;
    -- One claim serves a group at a time; another finding it held passes it by.
    ELSIF pg_try_advisory_xact_lock(hashtextextended(p_queue || chr(31) || v_key, 27)) THEN
      v_held := false;
      IF v_holds THEN
        SELECT h.until INTO v_until FROM {s}.group_holds h WHERE h.queue = p_queue AND h.grp = v_key AND h.until > p_now;
        IF FOUND THEN
          v_held := true;
          v_limited := true;
          v_next := LEAST(COALESCE(v_next, v_until), v_until);
        END IF;
      END IF;
      v_rule := v_default;
      IF NOT v_held AND v_own THEN
        SELECT * INTO v_rule FROM {s}.limits l WHERE l.queue = p_queue AND l.scope = 0 AND l.key = v_key;
        IF NOT FOUND THEN v_rule := v_default; END IF;
      END IF;
      IF NOT v_held AND v_rule.concurrency IS NOT NULL
        AND (SELECT COUNT(*) FROM {s}.jobs r WHERE r.queue = p_queue AND r.grp = v_key AND r.state = 1 AND r.grp IS NOT NULL) >= v_rule.concurrency THEN
        v_held := true;
        v_limited := true;
      END IF;
      IF NOT v_held AND v_rule.rate_max IS NOT NULL THEN
        DELETE FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 0 AND s.key = v_key AND s.at <= v_clock - v_rule.rate_per_ms;
        SELECT COUNT(*), MIN(s.at) INTO v_count, v_oldest FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 0 AND s.key = v_key;
        IF v_count >= v_rule.rate_max THEN
          v_held := true;
          v_limited := true;
          v_until := p_now + v_oldest + v_rule.rate_per_ms - v_clock;
          v_next := LEAST(COALESCE(v_next, v_until), v_until);
        END IF;
      END IF;
      IF NOT v_held THEN
        UPDATE {s}.jobs j SET state = 1, worker_id = p_worker, lease_until = p_lease_until, attempts = j.attempts + 1, started_at = v_clock, cancel_requested = NULL
        WHERE j.ctid = (
          SELECT q.ctid FROM {s}.jobs q
          WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp = v_key AND q.run_at <= p_now
            AND (q.target_worker IS NULL OR q.target_worker = p_worker)
          ORDER BY q.priority DESC, q.run_at, q.k LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING j.k, j.id, j.dix, j.target_worker, j.priority, j.run_at, j.attempts, j.max_attempts, j.recoveries, j.finished_at, j.outcome,
          j.progress, j.cancel_requested, j.name, j.args, j.options, j.fanout, j.grp, j.started_at
        INTO k, id, dix, target_worker, priority, run_at, attempts, max_attempts, recoveries, finished_at, outcome, progress, cancel_requested,
          name, args, options, fanout, grp, started_at;
        v_found := FOUND;
        IF v_found AND v_rule.rate_max IS NOT NULL THEN
          INSERT INTO {s}.starts (queue, scope, key, at) VALUES (p_queue, 0, v_key, v_clock);
        ELSIF NOT v_found THEN
          -- Nothing due for this worker: when the group's next row may be.
          SELECT MIN(q.run_at) INTO v_run_at FROM {s}.jobs q
          WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp = v_key AND q.run_at > p_now
            AND (q.target_worker IS NULL OR q.target_worker = p_worker);
          IF v_run_at IS NOT NULL THEN v_next := LEAST(COALESCE(v_next, v_run_at), v_run_at); END IF;
        END IF;
      END IF;
    END IF;
    IF v_found THEN
      IF v_route_rate.rate_max IS NOT NULL THEN
        INSERT INTO {s}.starts (queue, scope, key, at) VALUES (p_queue, 1, p_route, v_clock);
      END IF;
      v_taken := v_taken + 1;
      v_last := v_key;
      v_idle_since := NULL;
      limited := NULL;
      next_run_at := NULL;
      RETURN NEXT;
      EXIT WHEN v_taken >= v_limit;
    ELSIF v_idle_since IS NULL THEN
      v_idle_since := v_key;
    END IF;
    v_prev := v_key;
    v_key := {s}.next_group(p_queue, p_route, v_key);
    -- A whole round without a take ends the claim: the step reaches or passes (in key order, round
    -- and round) the key where the takes stopped. Passes, not only reaches: every statement sees the
    -- latest commits, so that group may have emptied meanwhile, and the round would never meet it.
    EXIT WHEN v_idle_since IS NOT NULL AND (v_key = v_idle_since OR CASE
      WHEN v_key > v_prev THEN v_idle_since > v_prev AND v_idle_since < v_key
      ELSE v_idle_since > v_prev OR v_idle_since < v_key END);
  END LOOP;
  -- The cursor moves to the last group served; a claim finding another writing it leaves it to that one.
  IF v_last IS NOT NULL AND pg_try_advisory_xact_lock(hashtextextended(p_queue || chr(31) || p_route, 29)) THEN
    INSERT INTO {s}.group_cursors (queue, route, grp) VALUES (p_queue, p_route, v_last)
      ON CONFLICT (queue, route) DO UPDATE SET grp = excluded.grp;
  END IF;
  IF v_route_rate.rate_max IS NOT NULL AND v_taken >= v_limit AND v_limit < p_limit THEN
    v_limited := true;
    SELECT p_now + MIN(s.at) + v_route_rate.rate_per_ms - v_clock INTO v_until FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 1 AND s.key = p_route;
    v_next := LEAST(COALESCE(v_next, v_until), v_until);
  END IF;
  IF v_taken < p_limit THEN
    -- The earliest later run time of the jobs without a group that this worker could take.
    SELECT MIN(q.run_at) INTO v_run_at FROM {s}.jobs q
    WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp IS NULL AND q.run_at > p_now AND (q.target_worker IS NULL OR q.target_worker = p_worker);
    IF v_run_at IS NOT NULL THEN v_next := LEAST(COALESCE(v_next, v_run_at), v_run_at); END IF;
  ELSE
    v_next := NULL;
  END IF;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::int, NULL::text, NULL::int, NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::bigint,
    NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text, NULL::text, NULL::int, NULL::text, NULL::bigint, v_limited, v_next;
END
$fn$;
`;
