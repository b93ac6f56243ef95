// Lua steps on deliveries that several functions share: reading one, placing it where it waits, ending it,
// removing its job. Defined after COMMON_LUA (common.ts), whose state and helpers they use.

/** Lua: delivery(), holds(), placement(), groupPlacement(), makeReady(), removeJob(), trim(), finish(), unqueue(), requeue(). */
export const DELIVERY_STEPS_LUA = `
-- A delivery's record (rec), where it lives (hash, field), its job id, and its fields by name. For
-- delivery 0 the job's fields (nd, dedupe, keepS, …) come along from the same record.
local function delivery(did)
  local hash, field, jobId = slot(did)
  local t = rget(hash, field)
  if not t or not t.r then return nil end
  local job = t
  if hash ~= JOBS then job = rget(JOBS, jobId) or {} end
  return { hash = hash, field = field, rec = t, job = jobId, state = STATE_NAME[t.s], worker = t.w, route = t.r, target = t.T,
    seq = t.q, cancel = t.C, recs = t.z or 0, priority = t.p or 0, runAt = t.u or job.c, max = t.m, attempts = t.x or 0,
    nd = job.N or 1, dedupe = job.k, keepS = job.kS, keepF = job.kF, group = job.g }
end
-- Sets fields of delivery d's record.
local function dput(d, changes) return rput(d.hash, d.field, changes) end

-- Whether attempt number 'attempt' (as sent) of worker 'worker' still holds delivery d's lease.
local function holds(d, worker, attempt)
  return d.state == 'running' and d.worker == worker and d.attempts == tonumber(attempt)
end

-- The status of a call made under a lease that is no longer held: lost:<state>:<attempt>:<holder>
-- (the holder last, since worker ids contain ':').
local function lostStatus(d)
  return 'lost:' .. d.state .. ':' .. d.attempts .. ':' .. (d.worker or '')
end

-- Notes that a queued delivery is addressed to one worker, so that recover-expired can fail it once that worker is gone.
local function addressed(route, target)
  if target and target ~= '' then redis.call('SADD', P .. ':addressed', route .. '|' .. target) end
end

-- Makes a delivery due: the waiting list for priority 0 in run-time order, else the priority set (or the
-- worker's own set for a broadcast delivery addressed to it).
-- Where a due delivery goes: 'list' (the waiting list) or 'set' (the priority set, or the worker's own).
-- A list placement moves the list's tail.
local function placement(route, target, priority, runAt)
  if (target and target ~= '') or priority ~= 0 or runAt < tailOf(route) then return 'set' end
  setTail(route, runAt)
  return 'list'
end
-- Where a due delivery of a group goes, as placement() for its route: 'glist' (the group's list, priority 0
-- in run-time order; moves the list's tail) or 'gset' (its set, flagged). Either gives the group a turn.
local function groupPlacement(route, group, priority, runAt)
  local p = groupPlace(route, group)
  if priority ~= 0 or (p and runAt < p.tail) then
    if not (p and p.set) then changePlace(route, group, nil, true) end
    return 'gset'
  end
  if not p or p.tail ~= runAt then changePlace(route, group, runAt, nil) end
  return 'glist'
end
-- Makes a delivery due where placement() or groupPlacement() put it; one in a set needs its seq.
local function makeReady(place, route, target, did, seq, priority, runAt, group)
  if place == 'glist' then
    pushLater(P .. ':gl:' .. route .. '|' .. group, did)
  elseif place == 'gset' then
    zaddLater(P .. ':gq:' .. route .. '|' .. group, fmt(score(priority, runAt)), member(seq, did))
  elseif place == 'list' then
    pushLater(P .. ':waiting:' .. route, did)
  elseif target and target ~= '' then
    zaddLater(readyKey(route, target), fmt(score(priority, runAt)), member(seq, did))
    addressed(route, target)
  else
    zaddLater(P .. ':prio:' .. route, fmt(score(priority, runAt)), member(seq, did))
  end
end

-- Deletes a job with all its deliveries and logs; skip names a delivery already accounted for.
local function removeJob(jobId, skip, nd)
  local j = jobRecord(jobId)
  nd = nd or (j and (j.N or 1) or 0)
  for i = 0, nd - 1 do
    local did = jobId .. '.' .. i
    if did ~= skip then
      local d = delivery(did)
      if d then count(d.route, d.state, -1); groupCount(d.group, d.state, -1) end
    end
    if i > 0 then rdel(DELIVERIES, did) end
  end
  rdel(JOBS, jobId)
  delLater(P .. ':logs:' .. jobId)
end

-- A job's own retention ('<count>,<ageMs>'), else the backend's.
local function keepOf(own, kind)
  if not own then return keepDefault(kind) end
  local c, a = string.match(own, '^(-?%d+),(-?%d+)$')
  return { tonumber(c), tonumber(a) }
end

-- Applies retention to one list of ended jobs (newest first), at most 100 removals per call.
local function trim(list, keep)
  local keepCount, keepAge = keep[1], keep[2]
  local removed = 0
  if keepCount >= 0 then
    local extra = math.min(redis.call('LLEN', list) - keepCount, 100)
    for _ = 1, extra do
      local id = redis.call('RPOP', list)
      if jobRecord(id) then removeJob(id, nil) end
      removed = removed + 1
    end
  end
  if keepAge >= 0 then
    while removed < 100 do
      local id = redis.call('LINDEX', list, -1)
      if not id then break end
      local j = jobRecord(id)
      local endedAt = j and (j.e or j.f or 0)
      if j and endedAt >= NOW - keepAge then break end
      redis.call('RPOP', list)
      if j then removeJob(id, nil) end
      removed = removed + 1
    end
  end
end

-- Ends delivery did, which was in state 'from', as 'state' (succeeded, failed or cancelled). When it
-- was its job's last open delivery the job has ended, and retention may delete it at once.
local function finish(did, d, from, state, result, err, worker)
  count(d.route, from, -1)
  groupCount(d.group, from, -1)
  if from == 'running' then zremLater(P .. ':active', did) end
  ev(state, d.job, did, d.route, worker)
  if state == 'succeeded' then tally(d.route, 'c') elseif state == 'failed' then tally(d.route, 'f') end
  local ended, bad, dedupe, keepS, keepF
  if d.nd == 1 then
    ended, bad, dedupe, keepS, keepF = true, state ~= 'succeeded', d.dedupe, d.keepS, d.keepF
  else
    local j = jobRecord(d.job)
    local open = (j.o or 1) - 1
    local changes = { o = open }
    if state ~= 'succeeded' then changes.b = 1 end
    rput(JOBS, d.job, changes)
    ended = open <= 0
    if ended then bad, dedupe, keepS, keepF = j.b == 1, j.k, j.kS, j.kF end
  end
  local kind, keep
  if ended then
    kind, keep = 'succeeded', keepOf(keepS, 'succeeded')
    if bad then kind, keep = 'failed', keepOf(keepF, 'failed') end
  end
  -- A job that retention deletes at once is not written first; else its fields are set in place, as dput
  -- would set them (a table of changes per completion is a good part of its cost).
  if not (ended and keep[1] == 0) then
    local rec = d.rec
    rec.s, rec.f, rec.l = STATE_CODE[state], NOW, nil
    if result and result ~= '' then rec.v = result else rec.v = nil end
    if err and err ~= '' then rec.X = err else rec.X = nil end
    markDirty(d.hash, d.field)
  end
  if ended then
    if dedupe and redis.call('HGET', P .. ':dedupe', dedupe) == d.job then redis.call('HDEL', P .. ':dedupe', dedupe) end
    if keep[1] == 0 then
      removeJob(d.job, did, d.nd)
      return
    end
    if bad and d.nd == 1 then rput(JOBS, d.job, { b = 1 }) end
    if d.nd > 1 then rput(JOBS, d.job, { e = NOW }) end
    -- At once, not gathered: a later completion in this call trims the same list again.
    redis.call('LPUSH', P .. ':ended:' .. kind, d.job)
    trim(P .. ':ended:' .. kind, keep)
  end
  count(d.route, state, 1)
end

-- Takes a queued delivery out of whichever set or list holds it (one without a seq was never in a set).
local function unqueue(did, d)
  if d.group then
    if d.seq then
      local m = member(d.seq, did)
      if redis.call('ZREM', P .. ':delayed:' .. d.route, m) == 1 then return end
      if redis.call('ZREM', P .. ':gq:' .. d.route .. '|' .. d.group, m) == 1 then return end
    end
    redis.call('LREM', P .. ':gl:' .. d.route .. '|' .. d.group, 1, did)
    return
  end
  if not d.seq then
    redis.call('LREM', P .. ':waiting:' .. d.route, 1, did)
    return
  end
  local m = member(d.seq, did)
  if redis.call('ZREM', P .. ':delayed:' .. d.route, m) == 1 then return end
  if d.target and d.target ~= '' then
    redis.call('ZREM', readyKey(d.route, d.target), m)
  elseif redis.call('ZREM', P .. ':prio:' .. d.route, m) == 0 then
    -- Not in the priority set (where a priority-0 delivery due out of run-time order waits): in the list.
    redis.call('LREM', P .. ':waiting:' .. d.route, 1, did)
  end
end

-- Queues a delivery to run at runAt: the claim script promotes it from 'delayed' once due.
local function requeue(did, d, runAt)
  if not d.seq then
    d.seq = nextSeq()
    dput(d, { q = d.seq })
  end
  redis.call('ZADD', P .. ':delayed:' .. d.route, runAt, member(d.seq, did))
  addressed(d.route, d.target)
end
`;
