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
 * Layout 2 (all under the prefix; `layout` holds '2', see migrate.ts for layout 1):
 * - 'job' hash: job id -> the job's record, a MessagePack map that also holds delivery <id>.0 (most jobs
 *   have one delivery: one field to write, read and delete). 'delivery' hash: '<id>.<n>' -> delivery n ≥ 1.
 *   Records are read and written whole through rget/rput below, which keep the long field names in Lua
 *   and store one- or two-letter ones. Job fields: name, args (JSON), routes (CSV; omitted when it is
 *   delivery 0's route), created, nd (deliveries; omitted when 1), open (deliveries not ended; only when nd > 1),
 *   [type, opts (JSON of non-default run options), bad, dedupe, empty, att0, keepS, keepF, ended]. Delivery
 *   fields: route, [target], state, priority (omitted when 0), runAt (omitted when it is the job's created),
 *   attempts (omitted when 0), max, seq, [worker, lease, started, finished, result, error, cancel, rec, progress].
 * - Due deliveries: 'waiting:<route>' LIST (priority 0, in run-time order: 'tails' holds each list's last
 *   run time, and one due earlier goes to the priority set), 'prio:<route>' ZSET (other priorities),
 *   'ready:<route>:@<worker>' ZSET (broadcast deliveries addressed to one worker); 'delayed:<route>' ZSET
 *   (score = runAt) promoted by the claim once due. ZSET members are `<16-digit seq>:<deliveryId>`, scored
 *   (1000 - priority) · 2^41 + (runAt - 2020-01-01), exact in a double for priorities in [-1000, 1000]
 *   until 2089, so equal scores keep enqueue order.
 * - 'active' ZSET (score = lease end); 'ended:succeeded' and 'ended:failed' LISTs of ended job ids, newest
 *   first (retention pops the oldest). These keys are the listing too (listing.ts): no index by creation.
 *   'counts' hash
 *   '<route>|<state>'; 'addressed' set of '<route>|<worker>' pairs that broadcast deliveries were queued for.
 * - Events on channels ev:<type>, built only for types in 'listeners' (type -> until when, server ms, someone
 *   subscribes; see listen.ts); 'paused' set of paused routes ('*' for the queue); tp:<minute> hashes
 *   '<route>|c' / '<route>|f' of jobs completed and failed in that minute (expiring after a day). A job's
 *   own retention, when it has one, is keepS / keepF = '<count>,<ageMs>' (-1: no limit), overriding ARGV[3..6].
 *
 * Writes that many jobs of one call share (records, counts, events, the 'active' set, the waiting lists)
 * are gathered and issued once per key at the end of the call: flush() must end every function that writes.
 */
export const COMMON_LUA = `
-- Per call: set by begin(), which every function calls first. ARGV is the call's arguments, for the
-- steps shared by several functions (enqueueJobs, claimDeliveries, completeDeliveries).
local ARGV
local P, NOW, NOWS, KEEP, JOBS, DELIVERIES
local cache, dirty, dirtyOrder
local pendingCounts, countOrder, pendingZadd, zaddOrder, pendingZrem, zremOrder, pendingPush, pushOrder, pendingDel
local pendingEvents, eventSeqs, eventOrder, eventTotal, pendingTally, tallyOrder
local heard, tailsChanged, seqNow, seqChanged
-- Kept across calls in this Redis's Lua state, which a restart or a new primary starts empty: until when
-- someone listens to each queue's event types, and the run time at the tail of each waiting list. Both
-- are read through to their hashes, so a value from another skunq version is seen within a second.
local listening, tails = {}, {}

local function begin(args)
  ARGV = args
  P = ARGV[1]
  NOW = tonumber(ARGV[2])
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  -- NOW as records and event lines write it, made once per call.
  NOWS = string.format('%.0f', NOW)
  KEEP = { succeeded = { tonumber(ARGV[3]), tonumber(ARGV[4]) }, failed = { tonumber(ARGV[5]), tonumber(ARGV[6]) } }
  JOBS, DELIVERIES = P .. ':job', P .. ':delivery'
  -- The records the call has read or written, by hash and field; written back in flush().
  cache, dirty, dirtyOrder = { [JOBS] = {}, [DELIVERIES] = {} }, { [JOBS] = {}, [DELIVERIES] = {} }, { [JOBS] = {}, [DELIVERIES] = {} }
  -- Gathered writes, each made on first use (most calls use few of them).
  pendingCounts, countOrder, pendingZadd, zaddOrder, pendingZrem, zremOrder, pendingPush, pushOrder, pendingDel = nil, nil, nil, nil, nil, nil, nil, nil, nil
  pendingEvents, eventSeqs, eventOrder, eventTotal, pendingTally, tallyOrder = nil, nil, nil, 0, nil, nil
  heard, tailsChanged, seqNow, seqChanged = nil, nil, nil, false
end

local function fmt(n) return string.format('%.0f', n) end
local function score(priority, runAt) return (1000 - priority) * 2199023255552 + (runAt - 1577836800000) end
local function member(seq, did) return string.format('%016d', seq) .. ':' .. did end
local function readyKey(route, target)
  if target and target ~= '' then return P .. ':ready:' .. route .. ':@' .. target end
  return P .. ':waiting:' .. route
end

-- Records are MessagePack maps with one- or two-letter field names. The job: n name, a args (JSON), R routes
-- (CSV; absent: its route), c created, N deliveries (absent: 1), o deliveries not ended (only when N > 1),
-- t type, O run options (JSON), b bad, k dedupe key, E empty, A att0, kS / kF keepS / keepF, e ended.
-- A delivery: r route, T target, s state (STATE_CODE), p priority (absent: 0), u runAt (absent: the job's
-- created), x attempts (absent: 0), m max attempts, q seq, w worker, l lease, S started, f finished,
-- v result (JSON), X error (JSON), C cancel, z recoveries (absent: 0), P progress (JSON).
-- Numbers are stored as numbers, text as text; a field set to '' or nil is removed.
local STATE_CODE = { queued = 'q', running = 'r', succeeded = 's', failed = 'f', cancelled = 'c' }
local STATE_NAME = { q = 'queued', r = 'running', s = 'succeeded', f = 'failed', c = 'cancelled' }
local NUMERIC = { c = true, N = true, o = true, e = true, A = true, b = true, p = true, u = true, x = true, m = true,
  q = true, l = true, S = true, f = true, z = true }
local ZERO_ABSENT = { p = true, x = true, z = true }

-- Where delivery did's record is: the job's record for .0, else its own. Returns hash, field, job id.
local function slot(did)
  if string.byte(did, -1) == 48 and string.byte(did, -2) == 46 then
    local jobId = string.sub(did, 1, -3)
    return JOBS, jobId, jobId
  end
  local jobId, n = string.match(did, '^(.+)%.(%d+)$')
  if n == '0' then return JOBS, jobId, jobId end
  return DELIVERIES, did, jobId
end
local function rget(hash, field)
  local t = cache[hash][field]
  if t == nil then
    local blob = redis.call('HGET', hash, field)
    t = blob and cmsgpack.unpack(blob) or false
    cache[hash][field] = t
  end
  return t or nil
end
-- Sets fields of a record (a value of '' clears one); creates it when absent. A state is given by name.
local function rput(hash, field, changes)
  local t = rget(hash, field)
  if not t then t = {}; cache[hash][field] = t end
  for k, v in pairs(changes) do
    if NUMERIC[k] and v ~= '' then v = tonumber(v) end
    if k == 's' then v = STATE_CODE[v] or v end
    if v == '' or (v == 0 and ZERO_ABSENT[k]) then t[k] = nil else t[k] = v end
  end
  if not dirty[hash][field] then dirty[hash][field] = true; table.insert(dirtyOrder[hash], field) end
  return t
end
local function rdel(hash, field)
  cache[hash][field] = false
  if not dirty[hash][field] then dirty[hash][field] = true; table.insert(dirtyOrder[hash], field) end
end
local function jobRecord(jobId) return rget(JOBS, jobId) end


-- The run time of the last delivery pushed on a route's waiting list ('tails'): a list stays in run-time
-- order, so a due delivery that runs earlier than its tail goes to the priority set.
local function tailOf(route)
  local ofQueue = tails[P]
  if not ofQueue then ofQueue = {}; tails[P] = ofQueue end
  local t = ofQueue[route]
  if not t or NOW - t[2] > 1000 then
    t = { tonumber(redis.call('HGET', P .. ':tails', route) or '0'), NOW }
    ofQueue[route] = t
  end
  return t[1]
end
local function setTail(route, runAt)
  local t = tails[P][route]
  if t[1] ~= runAt then
    t[1] = runAt
    tailsChanged = tailsChanged or {}
    tailsChanged[route] = runAt
  end
end

-- The next enqueue number ('seq'), which orders deliveries of equal score in a sorted set.
local function nextSeq()
  if not seqNow then seqNow = tonumber(redis.call('GET', P .. ':seq') or '0') end
  seqNow = seqNow + 1
  seqChanged = true
  return seqNow
end

local function count(route, state, delta)
  local field = route .. '|' .. state
  if not pendingCounts then pendingCounts, countOrder = {}, {} end
  if not pendingCounts[field] then pendingCounts[field] = 0; table.insert(countOrder, field) end
  pendingCounts[field] = pendingCounts[field] + delta
end
local function zaddLater(key, s, m)
  if not pendingZadd then pendingZadd, zaddOrder = {}, {} end
  if not pendingZadd[key] then pendingZadd[key] = {}; table.insert(zaddOrder, key) end
  local t = pendingZadd[key]; t[#t + 1] = s; t[#t + 1] = m
end
local function zremLater(key, m)
  if not pendingZrem then pendingZrem, zremOrder = {}, {} end
  if not pendingZrem[key] then pendingZrem[key] = {}; table.insert(zremOrder, key) end
  local t = pendingZrem[key]; t[#t + 1] = m
end
local function pushLater(key, m)
  if not pendingPush then pendingPush, pushOrder = {}, {} end
  if not pendingPush[key] then pendingPush[key] = {}; table.insert(pushOrder, key) end
  local t = pendingPush[key]; t[#t + 1] = m
end
local function delLater(key)
  pendingDel = pendingDel or {}
  pendingDel[#pendingDel + 1] = key
end
-- Job and delivery ids are free text: the characters that delimit an event's fields and lines ('|', line
-- ends) and '%' itself are written %XX, as the reader expects (event-channel.ts).
local function escId(s)
  if not s or not string.find(s, '[%%|\\r\\n]') then return s end
  return (string.gsub(s, '[%%|\\r\\n]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
-- Whether anyone subscribes to events of 'kind' now ('listeners', read at most once a second).
local function hears(kind)
  local ofQueue = listening[P]
  if not ofQueue then ofQueue = {}; listening[P] = ofQueue end
  local l = ofQueue[kind]
  if not l or NOW - l[2] > 1000 then
    l = { tonumber(redis.call('HGET', P .. ':listeners', kind) or '0'), NOW }
    ofQueue[kind] = l
  end
  return l[1] >= NOW
end
-- Notes that someone listens to events of 'kind' until 'untilAt' (the listen function).
local function heardUntil(kind, untilAt)
  hears(kind)
  listening[P][kind] = { untilAt, NOW }
end
-- An event line: seq|jobId|deliveryId|route|worker|at[|data JSON]; jobId is '' for queue and worker events.
-- Kept per event: its line without the seq (numbered in flush), and its place among the call's events.
local function ev(kind, jobId, did, route, worker, data)
  if not hears(kind) then return end
  -- A delivery id is its job id and '.n': one clean job id means both are.
  if jobId and string.find(jobId, '[%%|\\r\\n]') then jobId, did = escId(jobId), escId(did) end
  if not pendingEvents then pendingEvents, eventSeqs, eventOrder = {}, {}, {} end
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
  if not pendingTally then pendingTally, tallyOrder = {}, {} end
  if not pendingTally[field] then pendingTally[field] = 0; table.insert(tallyOrder, field) end
  pendingTally[field] = pendingTally[field] + 1
end

local function chunked(command, key, items)
  for i = 1, #items, 4000 do
    local last = math.min(i + 3999, #items)
    if key then redis.call(command, key, unpack(items, i, last)) else redis.call(command, unpack(items, i, last)) end
  end
end

local function flushRecords(hash)
  local sets, dels = {}, {}
  for _, field in ipairs(dirtyOrder[hash]) do
    local t = cache[hash][field]
    if t then sets[#sets + 1] = field; sets[#sets + 1] = cmsgpack.pack(t) else dels[#dels + 1] = field end
  end
  if #dels > 0 then chunked('HDEL', hash, dels) end
  if #sets > 0 then chunked('HSET', hash, sets) end
end

-- Issues the gathered due deliveries now (the claim takes from them in the same call).
local function flushTails()
  if tailsChanged then
    for route, runAt in pairs(tailsChanged) do redis.call('HSET', P .. ':tails', route, fmt(runAt)) end
    tailsChanged = nil
  end
end
local function flushDue()
  if zaddOrder then for _, key in ipairs(zaddOrder) do chunked('ZADD', key, pendingZadd[key]) end end
  if pushOrder then for _, key in ipairs(pushOrder) do chunked('RPUSH', key, pendingPush[key]) end end
  pendingZadd, zaddOrder, pendingPush, pushOrder = nil, nil, nil, nil
  flushTails()
end

local function flush()
  flushRecords(JOBS)
  flushRecords(DELIVERIES)
  if zremOrder then for _, key in ipairs(zremOrder) do chunked('ZREM', key, pendingZrem[key]) end end
  flushDue()
  if seqChanged then redis.call('SET', P .. ':seq', seqNow) end
  if countOrder then
    for _, field in ipairs(countOrder) do
      if pendingCounts[field] ~= 0 then redis.call('HINCRBY', P .. ':counts', field, pendingCounts[field]) end
    end
  end
  if pendingDel then chunked('DEL', nil, pendingDel) end
  if tallyOrder then
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
    nd = job.N or 1, dedupe = job.k, keepS = job.kS, keepF = job.kF }
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
-- Makes a delivery due where placement() put it; one in a set needs its seq.
local function makeReady(place, route, target, did, seq, priority, runAt)
  if place == 'list' then
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
      if d then count(d.route, d.state, -1) end
    end
    if i > 0 then rdel(DELIVERIES, did) end
  end
  rdel(JOBS, jobId)
  delLater(P .. ':logs:' .. jobId)
end

-- A job's own retention ('<count>,<ageMs>'), else the backend's.
local function keepOf(own, kind)
  if not own then return KEEP[kind] end
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
  if from == 'running' then zremLater(P .. ':active', did) end
  ev(state, d.job, did, d.route, worker)
  if state == 'succeeded' then tally(d.route, 'c') elseif state == 'failed' then tally(d.route, 'f') end
  dput(d, { s = state, f = NOW, l = '', v = result or '', X = err or '' })
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
  if ended then
    if dedupe and redis.call('HGET', P .. ':dedupe', dedupe) == d.job then redis.call('HDEL', P .. ':dedupe', dedupe) end
    local kind, keep = 'succeeded', keepOf(keepS, 'succeeded')
    if bad then kind, keep = 'failed', keepOf(keepF, 'failed') end
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
  if not d.seq then
    redis.call('LREM', P .. ':waiting:' .. d.route, 1, did)
    return
  end
  local m = member(d.seq, did)
  if redis.call('ZREM', P .. ':delayed:' .. d.route, m) == 1 then return end
  if d.target and d.target ~= '' then
    redis.call('ZREM', readyKey(d.route, d.target), m)
  elseif d.priority ~= 0 then
    redis.call('ZREM', P .. ':prio:' .. d.route, m)
  else
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
