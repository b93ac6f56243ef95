
/** Lua: claimDeliveries(route, worker, leaseMs, limit), the claim step without the final flush(). */
export const CLAIM_FN = `
-- A limits row ('glimits' or 'rlimits'): 'concurrency|max|perMs', '' where unset.
local function limitsOf(hash, key)
  local v = redis.call('HGET', hash, key)
  if not v then return nil end
  local c, m, p = string.match(v, '^(%d*)|(%d*)|(%d*)$')
  return { conc = tonumber(c), max = tonumber(m), per = tonumber(p) }
end
-- When a rate window ('starts:…', score = start time) lets one more start through: nil when it does now,
-- else the instant its oldest start leaves the window. Drops the starts that left it.
local function windowOpens(key, rule)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(NOW - rule.per))
  if redis.call('ZCARD', key) < rule.max then return nil end
  return tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) + rule.per
end
-- Logs a start in a rate window; the window's key outlives its newest start by the window.
local function logStart(key, rule, startId)
  redis.call('ZADD', key, NOW, startId)
  redis.call('PEXPIRE', key, rule.per + 1000)
end

local function claimDeliveries(route, worker, leaseMs, limit)
local lease = fmt(NOW + leaseMs)
local mine = readyKey(route, worker)
local delayed = P .. ':delayed:' .. route
-- A paused route or queue hands out nothing (one cheap SCARD when nothing is paused).
if redis.call('SCARD', P .. ':paused') > 0 and (redis.call('SISMEMBER', P .. ':paused', route) == 1 or redis.call('SISMEMBER', P .. ':paused', '*') == 1) then
  return { {}, false, fmt(NOW), lease, 1, 0 }
end

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', NOW, 'LIMIT', 0, 1000)
if #due > 0 then
  for _, m in ipairs(due) do
    local did = string.sub(m, 18)
    local d = delivery(did)
    if d and d.state == 'queued' then
      if d.group then makeReady(groupPlacement(route, d.group, d.priority, d.runAt), route, d.target, did, d.seq, d.priority, d.runAt, d.group)
      else makeReady(placement(route, d.target, d.priority, d.runAt), route, d.target, did, d.seq, d.priority, d.runAt) end
    end
  end
  chunked('ZREM', delayed, due)
  flushDue()
end

-- Due deliveries without a group in order: by priority, then run time, then enqueue order, up to 'upto'
-- picked in all. The waiting list holds priority 0 in that order already; the priority set holds the
-- rest, and priority-0 deliveries that came due out of order.
local picked = {}
local waiting, prio = P .. ':waiting:' .. route, P .. ':prio:' .. route
local function popList(n)
  for _, did in ipairs(redis.call('LPOP', waiting, n) or {}) do picked[#picked + 1] = did end
end
local function pickUngrouped(upto)
  if redis.call('EXISTS', mine) == 1 then
    -- Broadcast deliveries addressed to this worker, merged with the rest one at a time.
    while #picked < upto do
      local best, bestScore, bestMember = nil, nil, nil
      local function consider(source, s, m)
        if s and (not bestScore or s < bestScore or (s == bestScore and m < bestMember)) then best, bestScore, bestMember = source, s, m end
      end
      for _, key in ipairs({ mine, prio }) do
        local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        if #head > 0 then consider(key, tonumber(head[2]), head[1]) end
      end
      local first = redis.call('LINDEX', waiting, 0)
      local fd = first and delivery(first)
      if fd then consider(waiting, score(0, fd.runAt), member(fd.seq or 0, first)) end
      if first and not fd then
        redis.call('LPOP', waiting)
      elseif not best then
        break
      elseif best == waiting then
        popList(1)
      else
        redis.call('ZREM', best, bestMember); picked[#picked + 1] = string.sub(bestMember, 18)
      end
    end
  elseif redis.call('EXISTS', prio) == 0 then
    popList(upto - #picked)
  else
    local belowZero = score(-1, 1577836800000)
    while #picked < upto do
      local want = upto - #picked
      local first = redis.call('LINDEX', waiting, 0)
      local fd = first and delivery(first)
      if not first then
        local rest = redis.call('ZPOPMIN', prio, want)
        for i = 1, #rest, 2 do picked[#picked + 1] = string.sub(rest[i], 18) end
        break
      elseif not fd then
        redis.call('LPOP', waiting)
      else
        -- What the set holds before the list's head, then the head (all the list when the set's next is below priority 0).
        local ls, lm = score(0, fd.runAt), member(fd.seq or 0, first)
        local before = redis.call('ZRANGEBYSCORE', prio, '-inf', fmt(ls), 'WITHSCORES', 'LIMIT', 0, want)
        local took = {}
        for i = 1, #before, 2 do
          if tonumber(before[i + 1]) == ls and before[i] > lm then break end
          took[#took + 1] = before[i]
        end
        if #took > 0 then
          chunked('ZREM', prio, took)
          for _, m in ipairs(took) do picked[#picked + 1] = string.sub(m, 18) end
        else
          local head = redis.call('ZRANGE', prio, 0, 0, 'WITHSCORES')
          if #head == 0 or tonumber(head[2]) >= belowZero then popList(want) else popList(1) end
        end
      end
    end
  end
end

-- A route where groups have turns, or with limits, is claimed by turns: the route's rotation of groups
-- with due deliveries (the ones without a group as the group ''), each group visited put back at the end.
-- A visit takes as many as the group's free places (one without a concurrency limit, or with a rate): one
-- LPOP of the group's list for all of them, unless its set is flagged. A group is passed by while it is
-- held, has 'concurrency' running, or has had 'max' starts in its window (each a limit that held due work
-- back); one with nothing due left leaves the rotation. The claim stops at its limit, or once a whole
-- round took nothing.
local turnsKey, inKey = P .. ':gturns:' .. route, P .. ':gin:' .. route
local routeRule = limitsOf(P .. ':rlimits', route)
local limited, nextAt = false, nil
local function later(at)
  if at and at > NOW and (not nextAt or at < nextAt) then nextAt = at end
end
local routeStarts = routeRule and routeRule.max and (P .. ':starts:r:' .. route)
local asked = limit
if routeStarts then
  local opens = windowOpens(routeStarts, routeRule)
  if opens then return { {}, fmt(opens), fmt(NOW), lease, 0, 1 } end
  limit = math.min(limit, routeRule.max - redis.call('ZCARD', routeStarts))
end
if routeRule or redis.call('EXISTS', turnsKey) == 1 then
  if redis.call('LLEN', waiting) > 0 or redis.call('EXISTS', prio) == 1 or redis.call('EXISTS', mine) == 1 then enterTurn(route, '') end
  local default = limitsOf(P .. ':glimits', '*')
  -- Groups' own limits are looked up only when some group has them.
  local own = redis.call('HLEN', P .. ':glimits') > (default and 1 or 0)
  local holds = redis.call('EXISTS', P .. ':gholds') == 1
  local taken = {}
  local listPrefix, setPrefix, flagKey = P .. ':gl:' .. route .. '|', P .. ':gq:' .. route .. '|', P .. ':gz:' .. route
  -- Up to 'want' of the first deliveries of group g's set, read then cut: ZPOPMIN would answer each score
  -- too, formatted as text (a large part of its time).
  local function takeFromSet(g, want)
    local set = setPrefix .. g
    local top = redis.call('ZRANGE', set, 0, want - 1)
    if #top > 0 then redis.call('ZREMRANGEBYRANK', set, 0, #top - 1) end
    for _, m in ipairs(top) do picked[#picked + 1] = string.sub(m, 18) end
    return #top
  end
  -- Up to 'want' of a flagged group's due deliveries in order, from its list and its set: the set's first
  -- when its list is empty, else one at a time, the earlier of the two heads, until the set is found
  -- empty (its flag is then dropped).
  local function takeMerged(g, want)
    local list, set = listPrefix .. g, setPrefix .. g
    local first = redis.call('LINDEX', list, 0)
    if not first then return takeFromSet(g, want) end
    local took = 0
    while took < want do
      local head = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
      if #head == 0 then
        local p = groupPlace(route, g)
        if p then p.set = false; redis.call('HSET', inKey, g, 'L' .. fmt(p.tail)) end
        redis.call('HDEL', flagKey, g)
        local rest = first and redis.call('LPOP', list, want - took)
        if rest then for _, did in ipairs(rest) do picked[#picked + 1] = did end; took = took + #rest end
        break
      end
      local fd = first and delivery(first)
      local ls = fd and score(0, fd.runAt)
      if first and not fd then
        redis.call('LPOP', list)
        first = redis.call('LINDEX', list, 0)
      elseif fd and (ls < tonumber(head[2]) or (ls == tonumber(head[2]) and member(fd.seq or 0, first) < head[1])) then
        redis.call('LPOP', list)
        picked[#picked + 1] = first
        took = took + 1
        first = redis.call('LINDEX', list, 0)
      else
        redis.call('ZREM', set, head[1])
        picked[#picked + 1] = string.sub(head[1], 18)
        took = took + 1
      end
    end
    return took
  end
  -- A turn of group g: takes its next due deliveries if its limits let them start now, as many as its free
  -- places (one for a group without a concurrency limit, or with a rate); 'took', 'passed' (a limit) or
  -- 'empty'. 'running' is its number in 'gcounts' as stored, and 'flagged' whether its set may hold
  -- deliveries, as read with the page.
  local function takeFromGroup(g, running, flagged)
    if holds then
      local heldTo = tonumber(redis.call('HGET', P .. ':gholds', g) or '0')
      if heldTo > NOW then limited = true; later(heldTo); return 'passed' end
    end
    local rule = default
    if own then rule = limitsOf(P .. ':glimits', g) or default end
    local want = 1
    if rule and rule.conc then
      local room = rule.conc - groupRunning(g, running) - (taken[g] or 0)
      if room <= 0 then limited = true; return 'passed' end
      if not rule.max then want = math.min(room, limit - #picked) end
    end
    local starts = rule and rule.max and (P .. ':starts:g:' .. g)
    if starts then
      local opens = windowOpens(starts, rule)
      if opens then limited = true; later(opens); return 'passed' end
    end
    -- A delivery taken is read once, below: one no longer queued is dropped there (rare: a cancel or a
    -- reschedule takes its entry out).
    local before, took = #picked, 0
    if flagged then
      took = takeMerged(g, want)
    else
      -- The list alone, one LPOP.
      local top = redis.call('LPOP', listPrefix .. g, want)
      if top then
        for _, did in ipairs(top) do picked[#picked + 1] = did end
        took = #top
      end
    end
    if took == 0 then return 'empty' end
    if starts then
      for k = before + 1, #picked do logStart(starts, rule, picked[k] .. ':' .. nowText()) end
    end
    taken[g] = (taken[g] or 0) + took
    return 'took'
  end
  -- The rotation a page at a time: the groups visited go to the end, those found empty leave it.
  local needCounts = own or (default and default.conc)
  local anyFlagged = redis.call('EXISTS', flagKey) == 1
  local round, idle, left = redis.call('LLEN', turnsKey), 0, {}
  while #picked < limit and idle < round do
    local page = redis.call('LRANGE', turnsKey, 0, math.min(64, limit - #picked + 4, round) - 1)
    if #page == 0 then break end
    local counts = nil
    if needCounts then counts = redis.call('HMGET', P .. ':gcounts', unpack(page)) end
    local flags = nil
    if anyFlagged then flags = redis.call('HMGET', flagKey, unpack(page)) end
    local visited, back = 0, {}
    for i, g in ipairs(page) do
      visited = i
      local outcome
      if g == '' then
        local before = #picked
        pickUngrouped(before + 1)
        outcome = #picked > before and 'took' or 'empty'
      else
        outcome = takeFromGroup(g, counts and tonumber(counts[i] or '0'), flags and flags[i])
      end
      if outcome == 'empty' then
        -- Nothing due left: out of the rotation. A due delivery brings it back.
        redis.call('HDEL', inKey, g)
        if flags and flags[i] then redis.call('HDEL', flagKey, g) end
        if places then places[route .. '|' .. g] = false end
        if g ~= '' then left[#left + 1] = g end
        round = round - 1
      else
        back[#back + 1] = g
        if outcome == 'took' then idle = 0 else idle = idle + 1 end
      end
      if #picked >= limit or idle >= round then break end
    end
    redis.call('LTRIM', turnsKey, visited, -1)
    if #back > 0 then redis.call('RPUSH', turnsKey, unpack(back)) end
  end
  if #left > 0 then chunked('ZREM', P .. ':gkeys:' .. route, left) end
else
  pickUngrouped(limit)
end

local out = {}
local leaseAt = tonumber(lease)
for _, did in ipairs(picked) do
  local d = delivery(did)
  -- An entry whose delivery is no longer queued (or gone) is dropped, never run.
  if d and d.state == 'queued' then
    local j = d.rec
    if d.hash ~= JOBS then j = jobRecord(d.job) or {} end
    local attempts = d.attempts + 1
    -- Set in place, as dput would: a claim's hottest step, without a table of changes per delivery.
    local rec = d.rec
    rec.s, rec.w, rec.l, rec.S, rec.x = 'r', worker, leaseAt, NOW, attempts
    markDirty(d.hash, d.field)
    zaddLater(P .. ':active', lease, did)
    count(route, 'queued', -1)
    count(route, 'running', 1)
    groupCount(d.group, 'queued', -1)
    groupCount(d.group, 'running', 1)
    if routeStarts then logStart(routeStarts, routeRule, did .. ':' .. attempts) end
    ev('started', d.job, did, route, worker)
    -- The group only when there is one: a claim of jobs without groups answers what it did before groups.
    local row = { did, d.target or '', d.priority, d.runAt, attempts, d.max, j.n, j.a, j.O or '', d.recs }
    if d.group then row[11] = d.group end
    out[#out + 1] = row
  end
end

local nextRunAt = false
if #picked < asked or limited then
  local n = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if #n > 0 then later(tonumber(n[2])) end
  if nextAt then nextRunAt = fmt(nextAt) end
  -- A route rate's window filled by this claim opens when its oldest start leaves.
  if routeStarts and #picked >= limit then
    local opens = windowOpens(routeStarts, routeRule)
    if opens then limited = true; later(opens); nextRunAt = fmt(nextAt) end
  end
end
return { out, nextRunAt, fmt(NOW), lease, 0, limited and 1 or 0 }
end
`;

/**
 * claim — leases up to `limit` due deliveries of one route to a worker; a waiting claim that finds none
 * parks the worker for a hand-off (hand-off.ts).
 * Reads:   ARGV[7] route, ARGV[8] worker id, ARGV[9] lease length (ms), ARGV[10] limit, ARGV[11] how long a
 *          waiting claim waits (ms; '0' or absent: it does not); 'paused';
 *          'delayed:<route>' (due entries are promoted first), 'prio:<route>', 'waiting:<route>',
 *          'ready:<route>:@<worker>'; 'rlimits' and the route's 'starts:r:<route>'; where groups have turns
 *          ('gturns:<route>', 'gin:<route>'): 'glimits', 'gholds', 'gcounts', 'gz:<route>', 'starts:g:<group>', 'gl:<route>|<group>', 'gq:<route>|<group>'; the
 *          deliveries' records.
 * Writes:  the records (state running, worker, lease, attempts+1, started), 'active' (score = lease end),
 *          'addressed' (for promoted broadcast deliveries), 'counts', 'gcounts', the rotation ('gturns:<route>',
 *          'gin:<route>', 'gz:<route>', 'gkeys:<route>'), the starts of rate windows, events 'started'; a waiting
 *          claim: 'parked:<route>' and 'handoff:<worker>' (what was handed over and not taken is answered now).
 * Returns: { deliveries, nextRunAt, now, leaseEnd, paused (1 when the route or queue is paused), limited (1 when
 *          limits held due work back), parked (1 when the worker waits for a hand-off) } where each delivery is
 *          { id, target, priority, runAt, attempts, maxAttempts, name, args, opts, recoveries, group (absent: none) }
 *          and nextRunAt is the earliest instant something not taken may be claimable: a future run time in
 *          'delayed:<route>', a hold or rate window ending (nil when full and nothing held back, or none).
 */
export const CLAIM_LUA = `
local result = claimDeliveries(ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
local waitMs = tonumber(ARGV[11] or '0') or 0
if waitMs > 0 then parkIfIdle(result, ARGV[7], ARGV[8], tonumber(ARGV[9]), waitMs) end
flush()
return result
`;
