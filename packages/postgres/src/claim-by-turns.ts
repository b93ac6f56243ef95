/**
 * The claim of a route where grouped jobs wait or the route has limits: a PL/pgSQL function of the
 * schema (version 4), called by the `claimByTurns` statement, which publishes the `started` events.
 * Every statement in it takes a fresh snapshot (READ COMMITTED, a volatile function), so what it
 * counts after taking a lock includes every claim that held the lock before.
 *
 * Rate windows count starts by the server's clock, which also stamps the rows' start. Reads: the route's limits and, with a rate, its starts in the window (under a lock on the route, so
 * that claims on a rate-limited route take turns); the default and own group limits; the route's
 * turns, least recently served first (the jobs without a group are the turn ''), in passes; for each
 * group, under a lock only one claim holds at a time (a claim finding it held passes the group by),
 * its hold, its running rows (the running index) and, with a rate, its starts in the window; its next
 * due row by priority, run time and enqueue order, skipping rows another transaction holds.
 * Writes: one row per turn to running under the lease, attempts + 1; the group's turn moved behind
 * the others (a number from the turn sequence); its start logged when it has a rate; a route start per
 * row when the route has a rate. A group found with nothing queued loses its turn, unless a
 * transaction writing a queued row of it is still open (the shared lock the turn trigger takes).
 * Returns: the claimed rows, then one row without an id: whether limits held due work back, and the
 * earliest instant something held back may be claimable (a hold or window ending, a later run time).
 */
export const CLAIM_BY_TURNS_SQL = `
CREATE OR REPLACE FUNCTION {s}.claim_by_turns(p_queue text, p_route text, p_worker text, p_now bigint, p_limit int, p_lease_until bigint)
RETURNS TABLE (k bigint, id text, dix int, target_worker text, priority int, run_at bigint, attempts int, max_attempts int,
  recoveries int, finished_at bigint, outcome text, progress text, cancel_requested boolean, name text, args text, options text,
  fanout int, grp text, started_at bigint, limited boolean, next_run_at bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_limit int := p_limit;
  v_taken int := 0;
  v_in_pass int;
  v_pass_last bigint;
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
  -- Rate windows run on the server's clock, so that workers' clocks cannot skew them; an instant a
  -- window opens is answered in the worker's clock (p_now plus the wait).
  v_clock bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  t record;
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
  IF v_ungrouped THEN
    INSERT INTO {s}.group_turns (queue, route, grp, turn) VALUES (p_queue, p_route, '', 0) ON CONFLICT DO NOTHING;
  END IF;
  <<passes>>
  LOOP
    SELECT MAX(gt.turn) INTO v_pass_last FROM {s}.group_turns gt WHERE gt.queue = p_queue AND gt.route = p_route;
    v_in_pass := 0;
    FOR t IN SELECT gt.grp AS g FROM {s}.group_turns gt WHERE gt.queue = p_queue AND gt.route = p_route AND gt.turn <= v_pass_last ORDER BY gt.turn, gt.grp LOOP
      EXIT passes WHEN v_taken >= v_limit;
      IF t.g = '' THEN
        CONTINUE WHEN NOT v_ungrouped;
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
        CONTINUE WHEN NOT FOUND;
      ELSE
        -- One claim serves a group at a time; another finding it held passes it by.
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtextextended(p_queue || chr(31) || t.g, 27));
        IF v_holds THEN
          SELECT h.until INTO v_until FROM {s}.group_holds h WHERE h.queue = p_queue AND h.grp = t.g AND h.until > p_now;
          IF FOUND THEN
            v_limited := true;
            v_next := LEAST(COALESCE(v_next, v_until), v_until);
            CONTINUE;
          END IF;
        END IF;
        v_rule := v_default;
        IF v_own THEN
          SELECT * INTO v_rule FROM {s}.limits l WHERE l.queue = p_queue AND l.scope = 0 AND l.key = t.g;
          IF NOT FOUND THEN v_rule := v_default; END IF;
        END IF;
        IF v_rule.concurrency IS NOT NULL
          AND (SELECT COUNT(*) FROM {s}.jobs r WHERE r.queue = p_queue AND r.grp = t.g AND r.state = 1 AND r.grp IS NOT NULL) >= v_rule.concurrency THEN
          v_limited := true;
          CONTINUE;
        END IF;
        IF v_rule.rate_max IS NOT NULL THEN
          DELETE FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 0 AND s.key = t.g AND s.at <= v_clock - v_rule.rate_per_ms;
          SELECT COUNT(*), MIN(s.at) INTO v_count, v_oldest FROM {s}.starts s WHERE s.queue = p_queue AND s.scope = 0 AND s.key = t.g;
          IF v_count >= v_rule.rate_max THEN
            v_limited := true;
            v_until := p_now + v_oldest + v_rule.rate_per_ms - v_clock;
            v_next := LEAST(COALESCE(v_next, v_until), v_until);
            CONTINUE;
          END IF;
        END IF;
        UPDATE {s}.jobs j SET state = 1, worker_id = p_worker, lease_until = p_lease_until, attempts = j.attempts + 1, started_at = v_clock, cancel_requested = NULL
        WHERE j.ctid = (
          SELECT q.ctid FROM {s}.jobs q
          WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp = t.g AND q.run_at <= p_now
            AND (q.target_worker IS NULL OR q.target_worker = p_worker)
          ORDER BY q.priority DESC, q.run_at, q.k LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING j.k, j.id, j.dix, j.target_worker, j.priority, j.run_at, j.attempts, j.max_attempts, j.recoveries, j.finished_at, j.outcome,
          j.progress, j.cancel_requested, j.name, j.args, j.options, j.fanout, j.grp, j.started_at
        INTO k, id, dix, target_worker, priority, run_at, attempts, max_attempts, recoveries, finished_at, outcome, progress, cancel_requested,
          name, args, options, fanout, grp, started_at;
        v_found := FOUND;
        IF NOT v_found THEN
          -- Nothing due here: the group's turn goes once it has nothing queued, and no open transaction is queueing one.
          IF pg_try_advisory_xact_lock(hashtextextended(p_queue || chr(31) || t.g, 26)) THEN
            SELECT MIN(q.run_at) INTO v_run_at FROM {s}.jobs q WHERE q.queue = p_queue AND q.route = p_route AND q.state = 0 AND q.grp = t.g;
            IF v_run_at IS NULL THEN
              DELETE FROM {s}.group_turns gt WHERE gt.queue = p_queue AND gt.route = p_route AND gt.grp = t.g;
            ELSIF v_run_at > p_now THEN
              v_next := LEAST(COALESCE(v_next, v_run_at), v_run_at);
            END IF;
          END IF;
          CONTINUE;
        END IF;
        IF v_rule.rate_max IS NOT NULL THEN
          INSERT INTO {s}.starts (queue, scope, key, at) VALUES (p_queue, 0, t.g, v_clock);
        END IF;
      END IF;
      UPDATE {s}.group_turns gt SET turn = nextval('{s}.group_turn_numbers') WHERE gt.queue = p_queue AND gt.route = p_route AND gt.grp = t.g;
      IF v_route_rate.rate_max IS NOT NULL THEN
        INSERT INTO {s}.starts (queue, scope, key, at) VALUES (p_queue, 1, p_route, v_clock);
      END IF;
      v_taken := v_taken + 1;
      v_in_pass := v_in_pass + 1;
      limited := NULL;
      next_run_at := NULL;
      RETURN NEXT;
    END LOOP;
    EXIT WHEN v_in_pass = 0 OR v_taken >= v_limit;
  END LOOP;
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
