
/** Lua: claimDeliveries(route, worker, leaseMs, limit), the claim step without the final flush(). */
export const CLAIM_FN = `
local function claimDeliveries(route, worker, leaseMs, limit)
local lease = fmt(NOW + leaseMs)
local mine = readyKey(route, worker)
local delayed = P .. ':delayed:' .. route
-- A paused route or queue hands out nothing (one cheap SCARD when nothing is paused).
if redis.call('SCARD', P .. ':paused') > 0 and (redis.call('SISMEMBER', P .. ':paused', route) == 1 or redis.call('SISMEMBER', P .. ':paused', '*') == 1) then
  return { {}, false, fmt(NOW), lease, 1 }
end

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', NOW, 'LIMIT', 0, 1000)
if #due > 0 then
  for _, m in ipairs(due) do
    local did = string.sub(m, 18)
    local d = delivery(did)
    if d and d.state == 'queued' then makeReady(placement(route, d.target, d.priority, d.runAt), route, d.target, did, d.seq, d.priority, d.runAt) end
  end
  chunked('ZREM', delayed, due)
  flushDue()
end

-- Due deliveries in order: by priority, then run time, then enqueue order. The waiting list holds priority 0
-- in that order already; the priority set holds the rest, and priority-0 deliveries that came due out of order.
local picked = {}
local waiting, prio = P .. ':waiting:' .. route, P .. ':prio:' .. route
local function popList(n)
  for _, did in ipairs(redis.call('LPOP', waiting, n) or {}) do picked[#picked + 1] = did end
end
if redis.call('EXISTS', mine) == 1 then
  -- Broadcast deliveries addressed to this worker, merged with the rest one at a time.
  while #picked < limit do
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
  popList(limit)
else
  local belowZero = score(-1, 1577836800000)
  while #picked < limit do
    local want = limit - #picked
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

local out = {}
for _, did in ipairs(picked) do
  local d = delivery(did)
  -- An entry whose delivery is no longer queued (or gone) is dropped, never run.
  if d and d.state == 'queued' then
    local j = d.rec
    if d.hash ~= JOBS then j = jobRecord(d.job) or {} end
    local attempts = d.attempts + 1
    dput(d, { s = 'running', w = worker, l = lease, S = NOW, x = attempts })
    zaddLater(P .. ':active', lease, did)
    count(route, 'queued', -1)
    count(route, 'running', 1)
    ev('started', d.job, did, route, worker)
    out[#out + 1] = { did, d.target or '', d.priority, d.runAt, attempts, d.max, j.n, j.a, j.O or '', d.recs }
  end
end

local nextRunAt = false
if #picked < limit then
  local n = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if #n > 0 then nextRunAt = n[2] end
end
return { out, nextRunAt, fmt(NOW), lease, 0 }
end
`;

/**
 * claim — leases up to `limit` due deliveries of one route to a worker.
 * Reads:   ARGV[7] route, ARGV[8] worker id, ARGV[9] lease length (ms), ARGV[10] limit; 'paused';
 *          'delayed:<route>' (due entries are promoted first), 'prio:<route>', 'waiting:<route>',
 *          'ready:<route>:@<worker>'; the deliveries' records.
 * Writes:  the records (state running, worker, lease, attempts+1, started), 'active' (score = lease end),
 *          'addressed' (for promoted broadcast deliveries), 'counts', events 'started'.
 * Returns: { deliveries, nextRunAt, now, leaseEnd, paused (1 when the route or queue is paused) } where each delivery is
 *          { id, target, priority, runAt, attempts, maxAttempts, name, args, opts, recoveries }
 *          and nextRunAt is the earliest future run time in 'delayed:<route>' (nil when full or none).
 */
export const CLAIM_LUA = `
local result = claimDeliveries(ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
flush()
return result
`;
