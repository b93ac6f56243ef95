
/** The layout the scripts read and write (common.ts describes it). */
export const LAYOUT_VERSION = '2';

/**
 * migrate — moves a queue stored in layout 1 to layout 2, a batch per call; a queue with nothing
 * stored is marked at once. Processes running layout-1 code must be stopped first: they would keep
 * writing the old keys.
 * Layout 1 kept a hash per job (job:<id>, holding delivery 0) and per further delivery (d:<id>.<n>)
 * with the long field names, every due delivery of a route in one sorted set (ready:<route>), and
 * ended jobs in sorted sets scored by end time (done:succeeded, done:failed).
 * Reads:   'layout', 'migrating' (phase and position), 'jobs', job:<id>, d:<id>.<n>, 'counts' (the routes),
 *          ready:<route>, done:succeeded, done:failed.
 * Writes:  the records in 'job' and 'delivery', 'waiting:<route>', 'prio:<route>', 'tails', 'ended:*'; deletes
 *          what it moved; 'layout' = 2 at the end.
 * Returns: 1 when the queue is in layout 2, 0 when another call is needed.
 */
export const MIGRATE_LUA = `
if redis.call('GET', P .. ':layout') == '${LAYOUT_VERSION}' then return 1 end
local BATCH = 500
local state = P .. ':migrating'
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
  local moved, seen = 0, {}
  for _, field in ipairs(redis.call('HKEYS', P .. ':counts')) do
    local route = string.match(field, '^(.*)|[^|]*$')
    local old = P .. ':ready:' .. route
    if not seen[route] and moved < BATCH and redis.call('TYPE', old).ok == 'zset' then
      seen[route] = true
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
    -- Layout 1's listing by creation: layout 2 lists by state.
    redis.call('DEL', state, P .. ':jobs')
    return 1
  end
end
flush()
return 0
`;
