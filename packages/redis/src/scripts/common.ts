/**
 * Lua shared by every script. Calling convention of all scripts:
 *   KEYS[1]  a key of the queue (routes the call to the queue's cluster slot)
 *   ARGV[1]  the queue's key prefix, `skq:{queue}`
 *   ARGV[2]  now in epoch ms, or '' for the Redis server's clock (the default: leases and worker
 *            registrations are then judged by one clock, whatever the skew between worker machines)
 *   ARGV[3]  completed jobs to keep (-1: all)     ARGV[4] their max age in ms (-1: no limit)
 *   ARGV[5]  failed jobs to keep (-1: all)        ARGV[6] their max age in ms (-1: no limit)
 *   ARGV[7…] the script's own arguments
 * Ready sets are sorted by (1000 - priority) · 2^41 + (runAt - 2020-01-01), exact in a double for
 * priorities in [-1000, 1000] until 2089; members are `<16-digit seq>:<deliveryId>`, so equal
 * scores keep enqueue order.
 */
export const COMMON_LUA = `
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
if not NOW then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local KEEP = { succeeded = { tonumber(ARGV[3]), tonumber(ARGV[4]) }, failed = { tonumber(ARGV[5]), tonumber(ARGV[6]) } }

local function fmt(n) return string.format('%.0f', n) end
local function score(priority, runAt) return (1000 - priority) * 2199023255552 + (runAt - 1577836800000) end
local function member(seq, did) return string.format('%016d', seq) .. ':' .. did end
local function readyKey(route, target)
  if target and target ~= '' then return P .. ':ready:' .. route .. ':@' .. target end
  return P .. ':ready:' .. route
end
local function count(route, state, delta) redis.call('HINCRBY', P .. ':counts', route .. '|' .. state, delta) end
local function ev(kind, jobId, did, route, worker)
  local seq = redis.call('INCR', P .. ':evseq')
  redis.call('PUBLISH', P .. ':ev:' .. kind, seq .. '|' .. jobId .. '|' .. (did or '') .. '|' .. (route or '') .. '|' .. (worker or '') .. '|' .. NOW)
end

local function removeJob(jobId)
  local jk = P .. ':job:' .. jobId
  local nd = tonumber(redis.call('HGET', jk, 'nd') or '0')
  for i = 0, nd - 1 do
    local dk = P .. ':d:' .. jobId .. '.' .. i
    local d = redis.call('HMGET', dk, 'route', 'state')
    if d[1] then count(d[1], d[2], -1) end
    redis.call('DEL', dk)
  end
  redis.call('DEL', jk, P .. ':logs:' .. jobId)
  redis.call('ZREM', P .. ':jobs', jobId)
end

-- Applies retention to one ended-jobs set, at most 100 removals per call.
local function trim(set, keep)
  local keepCount, keepAge = keep[1], keep[2]
  if keepAge >= 0 then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. fmt(NOW - keepAge), 'LIMIT', 0, 100)) do
      removeJob(id)
      redis.call('ZREM', set, id)
    end
  end
  if keepCount >= 0 then
    local extra = redis.call('ZCARD', set) - keepCount
    if extra > 0 then
      for _, id in ipairs(redis.call('ZRANGE', set, 0, math.min(extra, 100) - 1)) do
        removeJob(id)
        redis.call('ZREM', set, id)
      end
    end
  end
end

-- One delivery of the job ended. When it was the last open one, the job has ended.
local function settle(jobId, bad)
  local jk = P .. ':job:' .. jobId
  if bad then redis.call('HSET', jk, 'bad', 1) end
  if redis.call('HINCRBY', jk, 'open', -1) > 0 then return end
  local key = redis.call('HGET', jk, 'dedupe')
  if key and key ~= '' and redis.call('HGET', P .. ':dedupe', key) == jobId then redis.call('HDEL', P .. ':dedupe', key) end
  local kind = 'succeeded'
  if redis.call('HGET', jk, 'bad') == '1' then kind = 'failed' end
  if KEEP[kind][1] == 0 then
    removeJob(jobId)
    return
  end
  redis.call('ZADD', P .. ':done:' .. kind, NOW, jobId)
  trim(P .. ':done:' .. kind, KEEP[kind])
end

-- Ends a delivery that was in state 'from' as 'state' (succeeded, failed or cancelled).
local function finish(did, d, from, state, result, err, worker)
  local dk = P .. ':d:' .. did
  redis.call('HSET', dk, 'state', state, 'finished', NOW, 'lease', '', 'result', result or '', 'error', err or '')
  redis.call('ZREM', P .. ':active', did)
  count(d.route, from, -1)
  count(d.route, state, 1)
  ev(state, d.job, did, d.route, worker)
  settle(d.job, state ~= 'succeeded')
end

local function delivery(did)
  local f = redis.call('HMGET', P .. ':d:' .. did, 'state', 'worker', 'job', 'route', 'target', 'seq', 'cancel', 'rec', 'priority', 'runAt')
  if not f[1] then return nil end
  return { state = f[1], worker = f[2], job = f[3], route = f[4], target = f[5], seq = tonumber(f[6]), cancel = f[7], rec = tonumber(f[8]), priority = tonumber(f[9]), runAt = tonumber(f[10]) }
end

-- Takes a queued delivery out of whichever set holds it.
local function unqueue(did, d)
  local m = member(d.seq, did)
  redis.call('ZREM', readyKey(d.route, d.target), m)
  redis.call('ZREM', P .. ':delayed:' .. d.route, m)
end

-- Queues a delivery to run at runAt: the claim script promotes it from 'delayed' once due.
local function requeue(did, d, runAt)
  redis.call('ZADD', P .. ':delayed:' .. d.route, runAt, member(d.seq, did))
end
`;
