import { COMMON_LUA } from './common.js';

/** Lua: claimDeliveries(route, worker, leaseMs, limit), the claim step without the final flush(). */
export const CLAIM_FN = `
local function claimDeliveries(route, worker, leaseMs, limit)
local lease = fmt(NOW + leaseMs)
local ready = P .. ':ready:' .. route
local mine = ready .. ':@' .. worker
local delayed = P .. ':delayed:' .. route
-- A paused route or queue hands out nothing (one cheap SCARD when nothing is paused).
if redis.call('SCARD', P .. ':paused') > 0 and (redis.call('SISMEMBER', P .. ':paused', route) == 1 or redis.call('SISMEMBER', P .. ':paused', '*') == 1) then
  return { {}, false, fmt(NOW), lease, 1 }
end

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', NOW, 'LIMIT', 0, 1000)
if #due > 0 then
  for _, m in ipairs(due) do
    local d = redis.call('HMGET', (dkey(string.sub(m, 18))), 'priority', 'runAt', 'target')
    if d[1] then
      redis.call('ZADD', readyKey(route, d[3]), fmt(score(tonumber(d[1]), tonumber(d[2]))), m)
      addressed(route, d[3])
    end
  end
  chunked('ZREM', delayed, due)
end

local picked = {}
if redis.call('EXISTS', mine) == 0 then
  local popped = redis.call('ZPOPMIN', ready, limit)
  for i = 1, #popped, 2 do picked[#picked + 1] = popped[i] end
else
  while #picked < limit do
    local a = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
    local b = redis.call('ZRANGE', mine, 0, 0, 'WITHSCORES')
    if #a == 0 and #b == 0 then break end
    local takeA = #b == 0 or (#a > 0 and (tonumber(a[2]) < tonumber(b[2]) or (tonumber(a[2]) == tonumber(b[2]) and a[1] < b[1])))
    if takeA then
      redis.call('ZREM', ready, a[1]); picked[#picked + 1] = a[1]
    else
      redis.call('ZREM', mine, b[1]); picked[#picked + 1] = b[1]
    end
  end
end

local out = {}
for _, m in ipairs(picked) do
  local did = string.sub(m, 18)
  local dk, jobId = dkey(did)
  -- Delivery 0 lives in the job hash, so the job's fields come in the same read.
  local d = redis.call('HMGET', dk, 'attempts', 'target', 'priority', 'runAt', 'max', 'name', 'args', 'opts', 'rec')
  if not d[6] then
    local j = redis.call('HMGET', P .. ':job:' .. jobId, 'name', 'args', 'opts')
    d[6], d[7], d[8] = j[1], j[2], j[3]
  end
  local attempts = tonumber(d[1]) + 1
  redis.call('HSET', dk, 'state', 'running', 'worker', worker, 'lease', lease, 'started', NOW, 'attempts', attempts)
  zaddLater(P .. ':active', lease, did)
  count(route, 'queued', -1)
  count(route, 'running', 1)
  ev('started', jobId, did, route, worker)
  out[#out + 1] = { did, d[2] or '', d[3], d[4], attempts, d[5], d[6], d[7], d[8] or '', d[9] or '0' }
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
 *          'delayed:<route>' (due entries are promoted first), 'ready:<route>' and 'ready:<route>:@<worker>'.
 * Writes:  d:<id> (state running, worker, lease, attempts+1, started), 'active' (score = lease end),
 *          'addressed' (for promoted broadcast deliveries), 'counts', events 'started'.
 * Returns: { deliveries, nextRunAt, now, leaseEnd, paused (1 when the route or queue is paused) } where each delivery is
 *          { id, target, priority, runAt, attempts, maxAttempts, name, args, opts, recoveries }
 *          and nextRunAt is the earliest future run time in 'delayed:<route>' (nil when full or none).
 */
export const CLAIM_LUA = `${COMMON_LUA}${CLAIM_FN}
local result = claimDeliveries(ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
flush()
return result
`;
