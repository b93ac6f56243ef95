
/** The layout the scripts read and write (common.ts describes it). */
export const LAYOUT_VERSION = '3';

/**
 * migrate — moves a queue stored in layout 1 or 2 to layout 3, a batch per call. Processes running
 * older code must be stopped first: they would keep writing the old keys.
 * Layout 2 kept all of a group's due deliveries in its sorted set 'gq:<route>:<group>', its place in
 * the rotation as '1' in 'gin:<route>', and no index of groups for the listing. Each call moves up to
 * 500 groups of one route (HSCAN of 'gin:<route>'; 'migrating' keeps each route's cursor and which are
 * done): their keys renamed to '<route>|<group>' (a group name may hold ':', a route name may not hold
 * '|'), an old place made 'Z' with a tail just after its set's last priority-0 run time (a delivery
 * enqueued at that time goes after those) and flagged in 'gz:<route>', and every group named in
 * 'gkeys:<route>'.
 * Layout 1 kept a hash per job (job:<id>, holding delivery 0) and per further delivery (d:<id>.<n>)
 * with the long field names, every due delivery of a route in one sorted set (ready:<route>), and
 * ended jobs in sorted sets scored by end time (done:succeeded, done:failed).
 * Reads:   'layout', 'migrating' (phase and position), 'counts' (the routes); layout 1: 'jobs', job:<id>,
 *          d:<id>.<n>, ready:<route>, done:succeeded, done:failed; layout 2: 'gin:<route>' and the groups' sets.
 * Writes:  layout 1: the records in 'job' and 'delivery', 'waiting:<route>', 'prio:<route>', 'tails',
 *          'ended:*', deleting what it moved; layout 2: the groups' keys renamed, 'gin:<route>', 'gz:<route>',
 *          'gkeys:<route>'; 'layout' = 3 at the end.
 * Returns: 1 when the queue is in layout 3, 0 when another call is needed.
 */
export const MIGRATE_LUA = `
local layout = redis.call('GET', P .. ':layout')
if layout == '${LAYOUT_VERSION}' then return 1 end
local BATCH = 500
local state = P .. ':migrating'
if layout == '2' then
  -- The first route not done yet (by name, so that a route added meanwhile is not skipped).
  local route = nil
  for _, r in ipairs(routesOf()) do
    if redis.call('HEXISTS', state, 'done|' .. r) == 0 then route = r; break end
  end
  if not route then
    redis.call('SET', P .. ':layout', '${LAYOUT_VERSION}')
    redis.call('DEL', state)
    return 1
  end
  local placesKey = P .. ':gin:' .. route
  local scan = redis.call('HSCAN', placesKey, redis.call('HGET', state, 'at|' .. route) or '0', 'COUNT', BATCH)
  local names = {}
  for i = 1, #scan[2], 2 do
    local g, word = scan[2][i], scan[2][i + 1]
    if g ~= '' then
      for _, kind in ipairs({ ':gq:', ':gl:' }) do
        local old = P .. kind .. route .. ':' .. g
        if redis.call('EXISTS', old) == 1 then redis.call('RENAME', old, P .. kind .. route .. '|' .. g) end
      end
      local first = string.byte(word, 1)
      if first ~= 76 and first ~= 90 then
        -- The set's last priority-0 entry (its scores lie below those of priority -1 from 2020 on).
        local last = redis.call('ZREVRANGEBYSCORE', P .. ':gq:' .. route .. '|' .. g, '(' .. fmt(score(-1, 1577836800000)), fmt(score(0, 1577836800000)), 'WITHSCORES', 'LIMIT', 0, 1)
        local tail = 0
        if #last > 0 then tail = tonumber(last[2]) - score(0, 0) + 1 end
        redis.call('HSET', placesKey, g, 'Z' .. fmt(tail))
        redis.call('HSET', P .. ':gz:' .. route, g, '1')
      end
      names[#names + 1] = 0
      names[#names + 1] = g
    end
  end
  if #names > 0 then chunked('ZADD', P .. ':gkeys:' .. route, names) end
  if scan[1] == '0' then redis.call('HSET', state, 'done|' .. route, 1) else redis.call('HSET', state, 'at|' .. route, scan[1]) end
  return 0
end
local phase = redis.call('HGET', state, 'phase') or 'jobs'
-- Layout 1's field names, and the names records use now (common.ts).
local SHORT = { name = 'n', args = 'a', routes = 'R', created = 'c', nd = 'N', open = 'o', type = 't', opts = 'O',
  bad = 'b', dedupe = 'k', empty = 'E', att0 = 'A', keepS = 'kS', keepF = 'kF', route = 'r', target = 'T', state = 's',
  priority = 'p', runAt = 'u', attempts = 'x', max = 'm', seq = 'q', worker = 'w', lease = 'l', started = 'S',
  finished = 'f', result = 'v', error = 'X', cancel = 'C', rec = 'z', progress = 'P' }
local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do if flat[i + 1] ~= '' and SHORT[flat[i]] then t[SHORT[flat[i]]] = flat[i + 1] end end
  return t
end
if phase == 'jobs' then
  local at = tonumber(redis.call('HGET', state, 'at') or '0')
  local ids = redis.call('ZRANGE', P .. ':jobs', at, at + BATCH - 1)
  for _, id in ipairs(ids) do
    local old = P .. ':job:' .. id
    local job = fields(redis.call('HGETALL', old))
    if job.n then
      if job.N == '1' then job.N, job.o = nil, nil end
      rput(JOBS, id, job)
      -- A broadcast nobody listened to had only the index by creation: it is listed with the ended jobs now.
      if job.N == '0' then
        job.e = job.c
        redis.call('LPUSH', P .. ':ended:failed', id)
      end
      for n = 1, tonumber(job.N or '1') - 1 do
        local key = P .. ':d:' .. id .. '.' .. n
        local d = fields(redis.call('HGETALL', key))
        if d.r then rput(DELIVERIES, id .. '.' .. n, d) end
        delLater(key)
      end
      delLater(old)
    end
  end
  if #ids == BATCH then
    redis.call('HSET', state, 'at', at + BATCH)
  else
    redis.call('HSET', state, 'phase', 'ready')
  end
elseif phase == 'ready' then
  -- Each route's due deliveries: priority 0 to its waiting list (in the old order), others to its priority set.
  local moved = 0
  for _, route in ipairs(routesOf()) do
    local old = P .. ':ready:' .. route
    if moved < BATCH and redis.call('TYPE', old).ok == 'zset' then
      local entries = redis.call('ZRANGE', old, 0, BATCH - 1, 'WITHSCORES')
      local members = {}
      for i = 1, #entries, 2 do
        local m, s = entries[i], tonumber(entries[i + 1])
        local priority = 1000 - math.floor(s / 2199023255552)
        local runAt = s - (1000 - priority) * 2199023255552 + 1577836800000
        makeReady(placement(route, '', priority, runAt), route, '', string.sub(m, 18), tonumber(string.sub(m, 1, 16)), priority, runAt)
        members[#members + 1] = m
      end
      chunked('ZREM', old, members)
      moved = moved + #members
    end
  end
  if moved == 0 then redis.call('HSET', state, 'phase', 'ended') end
else
  -- Ended jobs, oldest first, so that the newest end up at the head of each list.
  local moved = 0
  for _, kind in ipairs({ 'succeeded', 'failed' }) do
    local old = P .. ':done:' .. kind
    local entries = redis.call('ZRANGE', old, 0, BATCH - 1, 'WITHSCORES')
    local ids = {}
    for i = 1, #entries, 2 do
      ids[#ids + 1] = entries[i]
      -- The end time, which layout 1 kept only as this score (retention by age reads it).
      if jobRecord(entries[i]) then rput(JOBS, entries[i], { e = entries[i + 1] }) end
    end
    if #ids > 0 then
      chunked('LPUSH', P .. ':ended:' .. kind, ids)
      chunked('ZREM', old, ids)
      moved = moved + #ids
    end
  end
  if moved == 0 then
    redis.call('SET', P .. ':layout', '${LAYOUT_VERSION}')
    -- Layout 1's listing by creation: layouts 2 and 3 list by state. Layout 1 had no groups.
    redis.call('DEL', state, P .. ':jobs')
    return 1
  end
end
flush()
return 0
`;
