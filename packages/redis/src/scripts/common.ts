/**
 * Lua shared by every script. Calling convention of all scripts:
 *   KEYS[1]  a key of the queue (routes the call to the queue's cluster slot)
 *   ARGV[1]  the queue's key prefix, `skq:{queue}`
 *   ARGV[2]  now in epoch ms, or '' for the Redis server's clock (the default: leases and worker
 *            registrations are then judged by one clock, whatever the skew between worker machines)
 *   ARGV[3]  succeeded jobs to keep (-1: all)     ARGV[4] their max age in ms (-1: no limit)
 *   ARGV[5]  failed jobs to keep (-1: all)        ARGV[6] their max age in ms (-1: no limit)
 *   ARGV[7…] the script's own arguments
 *
 * Layout (all under the prefix): job:<id> hash { name, args (JSON), routes (CSV), created, nd, open,
 * [type, opts (JSON of non-default run options), bad, dedupe, empty] } that
 * also holds delivery <id>.0's fields (most jobs have one delivery: one key to write, read and
 * delete); d:<jobId>.<n> hashes for n ≥ 1. Delivery fields: { route, [target], state, priority,
 * runAt, attempts, max, seq, [worker, lease, started, finished, result, error, cancel, rec] }; ready:<route>[:@<worker>] and delayed:<route>
 * zsets; 'addressed' set of '<route>|<worker>' pairs that broadcast deliveries were queued for; 'active' zset (score = lease end); 'jobs' zset (score = created); 'counts' hash
 * '<route>|<state>'; 'done:succeeded' / 'done:failed' zsets; events on channels ev:<type>; 'paused' set
 * of paused routes ('*' for the queue); 'listeners' hash '<event type>' -> until when (server ms) someone
 * subscribes to that type (see listen.ts): events of a type nobody listens to are not built or published;
 * tp:<minute> hashes '<route>|c' / '<route>|f' of jobs completed and failed in that minute (expiring after a
 * day). A job's own retention, when it has one, is in its hash as keepS / keepF = '<count>,<ageMs>'
 * (-1: no limit), overriding ARGV[3..6].
 *
 * Ready sets are sorted by (1000 - priority) · 2^41 + (runAt - 2020-01-01), exact in a double for
 * priorities in [-1000, 1000] until 2089; members are `<16-digit seq>:<deliveryId>`, so equal
 * scores keep enqueue order.
 *
 * Writes that many jobs of one call share (counts, events, the 'active' and 'jobs' sets, deletions)
 * are gathered and issued once per key at the end of the script: flush() must end every script.
 */
export const COMMON_LUA = `
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
if not NOW then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- NOW as event lines write it, made once per call.
local NOWS = string.format('%.0f', NOW)
local KEEP = { succeeded = { tonumber(ARGV[3]), tonumber(ARGV[4]) }, failed = { tonumber(ARGV[5]), tonumber(ARGV[6]) } }

local function fmt(n) return string.format('%.0f', n) end
local function score(priority, runAt) return (1000 - priority) * 2199023255552 + (runAt - 1577836800000) end
local function member(seq, did) return string.format('%016d', seq) .. ':' .. did end
-- The hash that holds a delivery, and its job id.
local function dkey(did)
  if string.byte(did, -1) == 48 and string.byte(did, -2) == 46 then
    local jobId = string.sub(did, 1, -3)
    return P .. ':job:' .. jobId, jobId
  end
  local jobId, n = string.match(did, '^(.+)%.(%d+)$')
  if n == '0' then return P .. ':job:' .. jobId, jobId end
  return P .. ':d:' .. did, jobId
end
local function readyKey(route, target)
  if target and target ~= '' then return P .. ':ready:' .. route .. ':@' .. target end
  return P .. ':ready:' .. route
end

-- Gathered writes.
local pendingCounts, countOrder = {}, {}
local pendingZadd, zaddOrder = {}, {}
local pendingZrem, zremOrder = {}, {}
local pendingDel = {}
local pendingEvents, eventSeqs, eventOrder = {}, {}, {}
local eventTotal = 0
local pendingTally, tallyOrder = {}, {}

local function count(route, state, delta)
  local field = route .. '|' .. state
  if not pendingCounts[field] then pendingCounts[field] = 0; table.insert(countOrder, field) end
  pendingCounts[field] = pendingCounts[field] + delta
end
local function zaddLater(key, s, m)
  if not pendingZadd[key] then pendingZadd[key] = {}; table.insert(zaddOrder, key) end
  local t = pendingZadd[key]; t[#t + 1] = s; t[#t + 1] = m
end
local function zremLater(key, m)
  if not pendingZrem[key] then pendingZrem[key] = {}; table.insert(zremOrder, key) end
  local t = pendingZrem[key]; t[#t + 1] = m
end
local function delLater(key) pendingDel[#pendingDel + 1] = key end
-- Job and delivery ids are free text: the characters that delimit an event's fields and lines ('|', line
-- ends) and '%' itself are written %XX, as the reader expects (event-channel.ts).
local function escId(s)
  if not s or not string.find(s, '[%%|\\r\\n]') then return s end
  return (string.gsub(s, '[%%|\\r\\n]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
-- Whether anyone subscribes to events of 'kind' now (read once per kind and call).
local heard = {}
local function hears(kind)
  local h = heard[kind]
  if h == nil then
    h = tonumber(redis.call('HGET', P .. ':listeners', kind) or '0') >= NOW
    heard[kind] = h
  end
  return h
end
-- An event line: seq|jobId|deliveryId|route|worker|at[|data JSON]; jobId is '' for queue and worker events.
-- Kept per event: its line without the seq (numbered in flush), and its place among the call's events.
local function ev(kind, jobId, did, route, worker, data)
  if not hears(kind) then return end
  -- A delivery id is its job id and '.n': one clean job id means both are.
  if jobId and string.find(jobId, '[%%|\\r\\n]') then jobId, did = escId(jobId), escId(did) end
  local lines = pendingEvents[kind]
  if not lines then
    lines = {}; pendingEvents[kind] = lines; eventSeqs[kind] = {}; eventOrder[#eventOrder + 1] = kind
  end
  eventTotal = eventTotal + 1
  local n = #lines + 1
  if data then
    lines[n] = (jobId or '') .. '|' .. (did or '') .. '|' .. (route or '') .. '|' .. (worker or '') .. '|' .. NOWS .. '|' .. data
  else
    lines[n] = (jobId or '') .. '|' .. (did or '') .. '|' .. (route or '') .. '|' .. (worker or '') .. '|' .. NOWS
  end
  eventSeqs[kind][n] = eventTotal
end
-- Counts a delivery that ended in this minute's throughput hash ('c' completed, 'f' failed).
local function tally(route, what)
  local field = route .. '|' .. what
  if not pendingTally[field] then pendingTally[field] = 0; table.insert(tallyOrder, field) end
  pendingTally[field] = pendingTally[field] + 1
end

local function chunked(command, key, items)
  for i = 1, #items, 4000 do
    local last = math.min(i + 3999, #items)
    if key then redis.call(command, key, unpack(items, i, last)) else redis.call(command, unpack(items, i, last)) end
  end
end

local function flush()
  for _, key in ipairs(zremOrder) do chunked('ZREM', key, pendingZrem[key]) end
  for _, key in ipairs(zaddOrder) do chunked('ZADD', key, pendingZadd[key]) end
  for _, field in ipairs(countOrder) do
    if pendingCounts[field] ~= 0 then redis.call('HINCRBY', P .. ':counts', field, pendingCounts[field]) end
  end
  if #pendingDel > 0 then chunked('DEL', nil, pendingDel) end
  if #tallyOrder > 0 then
    local tp = P .. ':tp:' .. fmt(NOW - NOW % 60000)
    for _, field in ipairs(tallyOrder) do redis.call('HINCRBY', tp, field, pendingTally[field]) end
    redis.call('PEXPIRE', tp, 90000000)
  end
  if eventTotal > 0 then
    -- One message per event type and script call: lines of seq|jobId|deliveryId|route|worker|at.
    local last = redis.call('INCRBY', P .. ':evseq', eventTotal)
    local base = last - eventTotal
    for _, kind in ipairs(eventOrder) do
      local lines, seqs = pendingEvents[kind], eventSeqs[kind]
      for i = 1, #lines do lines[i] = (base + seqs[i]) .. '|' .. lines[i] end
      redis.call('PUBLISH', P .. ':ev:' .. kind, table.concat(lines, '\\n'))
    end
  end
end

-- A delivery's fields. For delivery 0 the job's 'nd' and 'dedupe' come along from the same hash.
local function delivery(did)
  local key, jobId = dkey(did)
  local f = redis.call('HMGET', key, 'state', 'worker', 'route', 'target', 'seq', 'cancel', 'rec', 'priority', 'runAt', 'nd', 'dedupe', 'attempts', 'keepS', 'keepF')
  if not f[1] then return nil end
  return { key = key, job = jobId, state = f[1], worker = f[2], route = f[3], target = f[4], seq = tonumber(f[5]), cancel = f[6],
    rec = tonumber(f[7] or '0'), priority = tonumber(f[8]), runAt = tonumber(f[9]), nd = tonumber(f[10]), dedupe = f[11],
    attempts = f[12] or '0', keepS = f[13], keepF = f[14] }
end

-- Whether attempt number 'attempt' (a string, as sent) of worker 'worker' still holds delivery d's lease.
local function holds(d, worker, attempt)
  return d.state == 'running' and d.worker == worker and d.attempts == attempt
end

-- The status of a call made under a lease that is no longer held: lost:<state>:<attempt>:<holder>
-- (the holder last, since worker ids contain ':').
local function lostStatus(d)
  return 'lost:' .. d.state .. ':' .. d.attempts .. ':' .. (d.worker or '')
end

-- Deletes a job with all its deliveries and logs; skip names a delivery already accounted for.
local function removeJob(jobId, skip, nd)
  local jk = P .. ':job:' .. jobId
  nd = nd or tonumber(redis.call('HGET', jk, 'nd') or '0')
  for i = 0, nd - 1 do
    local did = jobId .. '.' .. i
    local key = dkey(did)
    if did ~= skip then
      local d = redis.call('HMGET', key, 'route', 'state')
      if d[1] then count(d[1], d[2], -1) end
    end
    if i > 0 then delLater(key) end
  end
  delLater(jk)
  delLater(P .. ':logs:' .. jobId)
  zremLater(P .. ':jobs', jobId)
end

-- A job's own retention ('<count>,<ageMs>'), else the backend's.
local function keepOf(own, kind)
  if not own then return KEEP[kind] end
  local c, a = string.match(own, '^(-?%d+),(-?%d+)$')
  return { tonumber(c), tonumber(a) }
end

-- Applies retention to one ended-jobs set, at most 100 removals per call.
local function trim(set, keep)
  local keepCount, keepAge = keep[1], keep[2]
  local victims = {}
  if keepAge >= 0 then victims = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. fmt(NOW - keepAge), 'LIMIT', 0, 100) end
  if keepCount >= 0 and #victims == 0 then
    local extra = redis.call('ZCARD', set) - keepCount
    if extra > 0 then victims = redis.call('ZRANGE', set, 0, math.min(extra, 100) - 1) end
  end
  for _, id in ipairs(victims) do
    removeJob(id, nil)
    -- At once, not gathered: a later completion in this call trims the same set again.
    redis.call('ZREM', set, id)
  end
end

-- Ends delivery did, which was in state 'from', as 'state' (succeeded, failed or cancelled). When it
-- was its job's last open delivery the job has ended, and retention may delete it at once.
local function finish(did, d, from, state, result, err, worker)
  local jk = P .. ':job:' .. d.job
  count(d.route, from, -1)
  if from == 'running' then zremLater(P .. ':active', did) end
  ev(state, d.job, did, d.route, worker)
  if state == 'succeeded' then tally(d.route, 'c') elseif state == 'failed' then tally(d.route, 'f') end
  local ended, bad, dedupe, keepS, keepF
  if d.nd == 1 then
    ended, bad, dedupe, keepS, keepF = true, state ~= 'succeeded', d.dedupe, d.keepS, d.keepF
  else
    if state ~= 'succeeded' then redis.call('HSET', jk, 'bad', 1) end
    ended = redis.call('HINCRBY', jk, 'open', -1) <= 0
    if ended then
      local j = redis.call('HMGET', jk, 'bad', 'dedupe', 'keepS', 'keepF')
      bad, dedupe, keepS, keepF = j[1] == '1', j[2], j[3], j[4]
    end
  end
  if ended then
    if dedupe and redis.call('HGET', P .. ':dedupe', dedupe) == d.job then redis.call('HDEL', P .. ':dedupe', dedupe) end
    local kind, keep = 'succeeded', keepOf(keepS, 'succeeded')
    if bad then kind, keep = 'failed', keepOf(keepF, 'failed') end
    if keep[1] == 0 then
      removeJob(d.job, did, d.nd)
      return
    end
    if bad and d.nd == 1 then redis.call('HSET', jk, 'bad', 1) end
    redis.call('ZADD', P .. ':done:' .. kind, NOW, d.job)
    trim(P .. ':done:' .. kind, keep)
  end
  redis.call('HSET', d.key, 'state', state, 'finished', NOW, 'lease', '', 'result', result or '', 'error', err or '')
  count(d.route, state, 1)
end

-- Takes a queued delivery out of whichever set holds it.
local function unqueue(did, d)
  local m = member(d.seq, did)
  redis.call('ZREM', readyKey(d.route, d.target), m)
  redis.call('ZREM', P .. ':delayed:' .. d.route, m)
end

-- Notes that a queued delivery is addressed to one worker, so that recover-expired can fail it once that worker is gone.
local function addressed(route, target)
  if target and target ~= '' then redis.call('SADD', P .. ':addressed', route .. '|' .. target) end
end

-- Queues a delivery to run at runAt: the claim script promotes it from 'delayed' once due.
local function requeue(did, d, runAt)
  redis.call('ZADD', P .. ':delayed:' .. d.route, runAt, member(d.seq, did))
  addressed(d.route, d.target)
end
`;
