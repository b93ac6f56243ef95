// Waiting claims. A waiting claim that finds nothing due parks its worker on the route: an entry
// 'worker|leaseMs|deadline' on 'parked:<route>' (longest parked first). An enqueue that makes a delivery
// due claims it there and then for the first worker still parked, and pushes the claim's answer (JSON) on
// that worker's own list, 'handoff:<worker>', where the worker waits with BLPOP: the job starts without
// a wake-up event and a claim's round trip. One delivery per parking: the worker claims again after it.

/** Lua: parking, hand-offs and taking back what was handed over (needs claimDeliveries). */
export const HAND_OFF_FN = `
-- How long a parking outlives its wait, in case its worker died waiting (a live one ends it itself).
local PARK_SLACK_MS = 5000

local function handOffKey(worker) return P .. ':handoff:' .. worker end
local function parkedKey(route) return P .. ':parked:' .. route end

-- The worker's entries leave 'parked:<route>'.
local function unpark(route, worker)
  local key = parkedKey(route)
  for _, entry in ipairs(redis.call('LRANGE', key, 0, -1)) do
    if string.match(entry, '^(.*)|%d+|%d+$') == worker then redis.call('LREM', key, 0, entry) end
  end
end

-- What was handed to 'worker' and not taken by its BLPOP: the rows on its hand-off list whose lease it still
-- holds (an entry '' only woke a BLPOP), and the earliest of their lease ends. The list is emptied.
local function takeHandOffs(worker)
  local key = handOffKey(worker)
  local items = redis.call('LRANGE', key, 0, -1)
  if #items == 0 then return {}, nil end
  redis.call('DEL', key)
  local rows, leaseEnd = {}, nil
  for _, item in ipairs(items) do
    if item ~= '' then
      for _, row in ipairs(cjson.decode(item)[1]) do
        local d = delivery(row[1])
        if d and holds(d, worker, row[5]) then
          rows[#rows + 1] = row
          local l = tonumber(d.rec.l)
          if l and (not leaseEnd or l < leaseEnd) then leaseEnd = l end
        end
      end
    end
  end
  return rows, leaseEnd
end

-- A waiting claim's last step, on claim's answer 'result': what was handed to the worker before is added to
-- it; then, when it has nothing (and the route is neither paused nor held back by limits), the worker parks
-- for 'waitMs' and result[7] says so.
local function parkIfIdle(result, route, worker, leaseMs, waitMs)
  unpark(route, worker)
  local rows, leaseEnd = takeHandOffs(worker)
  for _, row in ipairs(rows) do result[1][#result[1] + 1] = row end
  if leaseEnd and leaseEnd < tonumber(result[4]) then result[4] = fmt(leaseEnd) end
  if #result[1] == 0 and result[5] == 0 and result[6] == 0 then
    redis.call('RPUSH', parkedKey(route), worker .. '|' .. fmt(leaseMs) .. '|' .. fmt(NOW + waitMs + PARK_SLACK_MS))
    result[7] = 1
  end
  return result
end

-- The pending 'enqueued' event of delivery 'did' names 'worker': it was handed to that worker, which has no
-- need to claim again for it.
local function nameHandedWorker(did, worker)
  local lines = pendingEvents and pendingEvents['enqueued']
  if not lines then return end
  local id = escId(did)
  for i = #lines, 1, -1 do
    local jobId, d, route, rest = string.match(lines[i], '^([^|]*)|([^|]*)|([^|]*)|[^|]*|(.*)$')
    if d == id then
      lines[i] = jobId .. '|' .. d .. '|' .. route .. '|' .. worker .. '|' .. rest
      return
    end
  end
end

-- Whether a job that an enqueue makes due on 'route' may go straight to a parked worker: nothing of the route
-- comes before it (none waiting, none in its priority set, none delayed and due; the enqueue asks only before it
-- places one of the route itself), the route and queue are not paused, and the route has no limits or turns.
-- Read once per route and call (handRoutes[route]: true, false, or 'none' when no worker is parked there, which
-- handOff() then need not ask again: nothing parks during an enqueue); false once no parked worker can take one.
local function routeClear(route)
  handRoutes = handRoutes or {}
  local clear = handRoutes[route]
  if clear == nil then
    local paused = P .. ':paused'
    if redis.call('EXISTS', parkedKey(route)) == 0 then
      clear = 'none'
    else
      clear = not (redis.call('SCARD', paused) > 0 and (redis.call('SISMEMBER', paused, route) == 1 or redis.call('SISMEMBER', paused, '*') == 1))
        and redis.call('HEXISTS', P .. ':rlimits', route) == 0
        and redis.call('EXISTS', P .. ':gturns:' .. route, P .. ':prio:' .. route, P .. ':waiting:' .. route) == 0
        and #redis.call('ZRANGEBYSCORE', P .. ':delayed:' .. route, '-inf', NOW, 'LIMIT', 0, 1) == 0
    end
    handRoutes[route] = clear
  end
  return clear == true
end
-- The worker parked longest on 'route', with its lease length and its parking (for parkAgain), to take a job
-- the enqueue makes due there, when routeClear(route) and deliveries addressed to that worker do not come first;
-- nil otherwise. Parkings past their deadline are dropped.
local function parkedWorker(route)
  if not routeClear(route) then return nil end
  local key = parkedKey(route)
  while true do
    local entry = redis.call('LPOP', key)
    if not entry then handRoutes[route] = 'none'; return nil end
    local worker, leaseMs, deadline = string.match(entry, '^(.*)|(%d+)|(%d+)$')
    if worker and tonumber(deadline) >= NOW then
      if redis.call('EXISTS', readyKey(route, worker)) == 0 then return worker, tonumber(leaseMs), entry end
      -- What is addressed to it comes first: handOff() serves it by a claim.
      redis.call('LPUSH', key, entry)
      handRoutes[route] = false
      return nil
    end
  end
end

-- A parking parkedWorker() took for a job that was not stored after all (its id was): first in line again.
local function parkAgain(route, entry)
  redis.call('LPUSH', parkedKey(route), entry)
end

-- The record 'job' of a job an enqueue hands to a parked worker, running under its lease as a claim would make it
-- (state, worker, lease, start, attempt 1): set before the record is first written, so it is written once.
local function leaseHanded(job, worker, leaseMs)
  job.s = 'r'; job.w = worker; job.l = NOW + leaseMs; job.S = NOW; job.x = 1
end

-- Starts the job just stored with leaseHanded() (delivery 0, 'did', on 'route') as a claim would ('active',
-- counts, 'started'), and hands the claim's answer to the worker.
local function startHanded(worker, leaseMs, job, jobId, did, route)
  local lease = job.l
  zaddLater(P .. ':active', fmt(lease), did)
  count(route, 'queued', -1)
  count(route, 'running', 1)
  ev('started', jobId, did, route, worker)
  local row = { did, '', 0, job.u or job.c, 1, job.m, job.n, job.a, job.O or '', 0 }
  local list = handOffKey(worker)
  redis.call('RPUSH', list, cjson.encode({ { row }, false, nowText(), fmt(lease), 0, 0 }))
  redis.call('PEXPIRE', list, leaseMs + PARK_SLACK_MS)
end

-- Due deliveries of 'route' go to the workers parked on it: for each one still within its deadline, one claim
-- of the route as its own claim would make it (so order, pauses and limits hold), pushed on its hand-off list.
local function handOff(route)
  local key = parkedKey(route)
  if (handRoutes and handRoutes[route] == 'none') or redis.call('EXISTS', key) == 0 then return end
  flushDue()
  while true do
    local entry = redis.call('LPOP', key)
    if not entry then return end
    local worker, leaseMs, deadline = string.match(entry, '^(.*)|(%d+)|(%d+)$')
    if worker and tonumber(deadline) >= NOW then
      local claimed = claimDeliveries(route, worker, tonumber(leaseMs), 1)
      if #claimed[1] == 0 then
        redis.call('LPUSH', key, entry)
        return
      end
      local list = handOffKey(worker)
      redis.call('RPUSH', list, cjson.encode(claimed))
      redis.call('PEXPIRE', list, tonumber(leaseMs) + PARK_SLACK_MS)
      nameHandedWorker(claimed[1][1][1], worker)
    end
  end
end
`;

/**
 * end_wait — ends a waiting claim that nothing was handed to in its time, or that its worker called off.
 * Reads:   ARGV[7] route, ARGV[8] worker id, ARGV[9] '1' to wake the worker's BLPOP; 'parked:<route>',
 *          'handoff:<worker>' and the records of the deliveries on it.
 * Writes:  'parked:<route>' (the worker's entries out), 'handoff:<worker>' (emptied; with ARGV[9], an entry ''
 *          that ends the BLPOP waiting on it).
 * Returns: a claim's answer (as claim returns it) with what was handed to the worker and not taken by its BLPOP.
 */
export const END_WAIT_LUA = `
local route, worker = ARGV[7], ARGV[8]
unpark(route, worker)
local rows, leaseEnd = takeHandOffs(worker)
if ARGV[9] == '1' then
  redis.call('RPUSH', handOffKey(worker), '')
  redis.call('PEXPIRE', handOffKey(worker), PARK_SLACK_MS)
end
return { rows, false, fmt(NOW), fmt(leaseEnd or NOW), 0, 0 }
`;
