/**
 * Lua shared by every function of the library (library.ts): defined once when Redis loads it. Calling
 * convention of all functions, each of which starts with begin(ARGV):
 *   KEYS[1]  a key of the queue (routes the call to the queue's cluster slot)
 *   ARGV[1]  the queue's key prefix, `skq:{queue}`
 *   ARGV[2]  now in epoch ms, or '' for the Redis server's clock (the default: leases and worker
 *            registrations are then judged by one clock, whatever the skew between worker machines)
 *   ARGV[3]  succeeded jobs to keep (-1: all)     ARGV[4] their max age in ms (-1: no limit)
 *   ARGV[5]  failed jobs to keep (-1: all)        ARGV[6] their max age in ms (-1: no limit)
 *   ARGV[7…] the function's own arguments
 *
 * Layout 3 (all under the prefix; 'layout' holds '3', see migrate.ts for layouts 1 and 2):
 * - 'job' hash: job id -> the job's record, a MessagePack map that also holds delivery <id>.0 (most jobs
 *   have one delivery: one field to write, read and delete); 'delivery' hash: '<id>.<n>' -> delivery n ≥ 1.
 *   Records are read and written whole through rget/rput; their one- and two-letter fields are listed at
 *   STATE_CODE below. A job's own retention, when it has one, is kS / kF = '<count>,<ageMs>' (-1: no
 *   limit), overriding ARGV[3..6].
 * - Due deliveries: 'waiting:<route>' LIST (priority 0, in run-time order: 'tails' holds each list's last
 *   run time, and one due earlier goes to the priority set), 'prio:<route>' ZSET (other priorities),
 *   'ready:<route>:@<worker>' ZSET (broadcast deliveries addressed to one worker); 'delayed:<route>' ZSET
 *   (score = runAt) promoted by the claim once due. ZSET members are `<16-digit seq>:<deliveryId>`, scored
 *   (1000 - priority) · 2^41 + (runAt - 2020-01-01), exact in a double for priorities in [-1000, 1000]
 *   until 2089, so equal scores keep enqueue order; a delivery gets its seq ('seq') when it first enters one.
 * - 'active' ZSET (score = lease end); 'ended:succeeded' and 'ended:failed' LISTs of ended job ids, newest
 *   first (retention pops the oldest). These keys are the listing too (listing.ts): no index by creation.
 * - 'counts' hash '<route>|<state>'; 'addressed' set of '<route>|<worker>' pairs that broadcast deliveries
 *   were queued for; 'paused' set of paused routes ('*' for the queue); tp:<minute> hashes '<route>|c' /
 *   '<route>|f' of jobs completed and failed in that minute (expiring after a day).
 * - Groups: a grouped delivery, once due, waits in its group's own list or set instead of the route's: the
 *   LIST 'gl:<route>|<group>' at priority 0 in run-time order, else the ZSET 'gq:<route>|<group>' (scored as
 *   above; a route name holds no '|'), and the group has a turn in the route's rotation 'gturns:<route>' (a
 *   LIST the claims take from the front and put back at the end; the jobs without a group take turns as the
 *   group ''), see claim.ts. 'gin:<route>' hash says who is in it: group -> 'L<tail>' or 'Z<tail>', the run
 *   time of the last delivery pushed on its list, Z when its set may hold deliveries (the group '' is
 *   always '1'; layout 2's groups are moved by migrate.ts). 'gz:<route>' hash group -> '1' flags the Z
 *   groups for the claims, which read it for a page of the rotation only while it exists (most routes'
 *   groups have lists alone). 'gkeys:<route>' ZSET (score 0) names the groups in the rotation in byte
 *   order, for the listing. 'gcounts' hash group -> running · 2^26 + queued, its deliveries in those
 *   states (a group at 0 is deleted by recover-expired). 'glimits' hash group ('*' the default) ->
 *   'concurrency|max|perMs' ('' where unset), 'rlimits' route -> the same;
 *   'starts:g:<group>' and 'starts:r:<route>' ZSETs (score = start time, expiring) for rate windows;
 *   'gholds' hash group -> until when a RateLimited holds it.
 * - Events on channels ev:<type>, built only for types in 'listeners' (type -> until when, server ms, someone
 *   subscribes; see listen.ts).
 *
 * Writes that many jobs of one call share (records, counts, events, the 'active' set, the waiting lists)
 * are gathered and issued once per key at the end of the call: flush() (flush.ts) must end every function that writes.
 */
export const COMMON_LUA = `
-- Per call: set by begin(), which every function calls first. ARGV is the call's arguments, for the
-- steps shared by several functions (enqueueJobs, claimDeliveries, completeDeliveries).
local ARGV
local P, NOW, NOWS, KEEP, JOBS, DELIVERIES
local cache, dirty, dirtyOrder
local pendingCounts, countOrder, pendingZadd, zaddOrder, pendingZrem, zremOrder, pendingPush, pushOrder, pendingDel
local pendingEvents, eventSeqs, eventOrder, eventTotal, pendingTally, tallyOrder
local heard, tails, tailsChanged, seqNow, seqChanged
local pendingGroups, groupOrder, turned, places, placeOrder
local handRoutes

local function begin(args)
  ARGV = args
  P = ARGV[1]
  NOW = tonumber(ARGV[2])
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  JOBS, DELIVERIES = P .. ':job', P .. ':delivery'
  -- Everything else is made on first use: most calls need little of it, and in Redis's Lua each table or
  -- formatted number costs about a microsecond.
  NOWS, KEEP, cache, dirty, dirtyOrder = nil, nil, nil, nil, nil
  pendingCounts, countOrder, pendingZadd, zaddOrder, pendingZrem, zremOrder, pendingPush, pushOrder, pendingDel = nil, nil, nil, nil, nil, nil, nil, nil, nil
  pendingEvents, eventSeqs, eventOrder, eventTotal, pendingTally, tallyOrder = nil, nil, nil, 0, nil, nil
  heard, tails, tailsChanged, seqNow, seqChanged = nil, nil, nil, nil, false
  pendingGroups, groupOrder, turned, places, placeOrder = nil, nil, nil, nil, nil
  handRoutes = nil
end

-- The backend's retention of 'succeeded' or 'failed' jobs: { count, ageMs } from ARGV[3..6] (-1: no limit).
local function keepDefault(kind)
  if not KEEP then KEEP = { succeeded = { tonumber(ARGV[3]), tonumber(ARGV[4]) }, failed = { tonumber(ARGV[5]), tonumber(ARGV[6]) } } end
  return KEEP[kind]
end
-- NOW as records and event lines write it.
local function nowText()
  if not NOWS then NOWS = string.format('%.0f', NOW) end
  return NOWS
end

local function fmt(n) return string.format('%.0f', n) end
local function score(priority, runAt) return (1000 - priority) * 2199023255552 + (runAt - 1577836800000) end
local function member(seq, did) return string.format('%016d', seq) .. ':' .. did end
local function readyKey(route, target)
  if target and target ~= '' then return P .. ':ready:' .. route .. ':@' .. target end
  return P .. ':waiting:' .. route
end
-- The queue's routes in sorted order, from the fields '<route>|<state>' of 'counts' (a route holds no '|').
local function routesOf()
  local routes, known = {}, {}
  for _, field in ipairs(redis.call('HKEYS', P .. ':counts')) do
    local route = string.match(field, '^(.*)|[^|]*$')
    if route and not known[route] then known[route] = true; routes[#routes + 1] = route end
  end
  table.sort(routes)
  return routes
end

-- Records are MessagePack maps with one- or two-letter field names. The job: n name, a args (JSON), R routes
-- (CSV; absent: its route), c created, N deliveries (absent: 1), o deliveries not ended (only when N > 1),
-- t type, O run options (JSON), b bad, k dedupe key, E empty, A att0, kS / kF keepS / keepF, e ended.
-- A delivery: r route, T target, s state (STATE_CODE), p priority (absent: 0), u runAt (absent: the job's
-- created), x attempts (absent: 0), m max attempts, q seq, w worker, l lease, S started, f finished,
-- v result (JSON), X error (JSON), C cancel, z recoveries (absent: 0), P progress (JSON), g group (a direct job's).
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
-- The records the call has read or written, by hash and field (false: deleted or absent), and those to
-- write back in flush(), in the order first changed.
local function cacheOf(hash)
  if not cache then cache = {} end
  local c = cache[hash]
  if not c then c = {}; cache[hash] = c end
  return c
end
local function markDirty(hash, field)
  if not dirty then dirty, dirtyOrder = {}, {} end
  local d = dirty[hash]
  if not d then d = {}; dirty[hash] = d; dirtyOrder[hash] = {} end
  if not d[field] then d[field] = true; local order = dirtyOrder[hash]; order[#order + 1] = field end
end
local function rget(hash, field)
  local c = cacheOf(hash)
  local t = c[field]
  if t == nil then
    local blob = redis.call('HGET', hash, field)
    t = blob and cmsgpack.unpack(blob) or false
    c[field] = t
  end
  return t or nil
end
-- Sets fields of a record (a value of '' clears one); creates it when absent. A state is given by name.
local function rput(hash, field, changes)
  local t = rget(hash, field)
  if not t then t = {}; cacheOf(hash)[field] = t end
  for k, v in pairs(changes) do
    if NUMERIC[k] and v ~= '' then v = tonumber(v) end
    if k == 's' then v = STATE_CODE[v] or v end
    if v == '' or (v == 0 and ZERO_ABSENT[k]) then t[k] = nil else t[k] = v end
  end
  markDirty(hash, field)
  return t
end
local function rdel(hash, field)
  cacheOf(hash)[field] = false
  markDirty(hash, field)
end
local function jobRecord(jobId) return rget(JOBS, jobId) end


-- The run time of the last delivery pushed on a route's waiting list ('tails', read once per route and
-- call): a list stays in run-time order, so a due delivery that runs earlier than its tail goes to the
-- priority set.
local function tailOf(route)
  tails = tails or {}
  local t = tails[route]
  if t == nil then
    t = tonumber(redis.call('HGET', P .. ':tails', route) or '0')
    tails[route] = t
  end
  return t
end
local function setTail(route, runAt)
  if tailOf(route) ~= runAt then
    tails[route] = runAt
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
-- Whether anyone subscribes to events of 'kind' now ('listeners', read once per kind and call).
local function hears(kind)
  heard = heard or {}
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
  if not pendingEvents then pendingEvents, eventSeqs, eventOrder = {}, {}, {} end
  local lines = pendingEvents[kind]
  if not lines then
    lines = {}; pendingEvents[kind] = lines; eventSeqs[kind] = {}; eventOrder[#eventOrder + 1] = kind
  end
  eventTotal = eventTotal + 1
  local n = #lines + 1
  if data then
    lines[n] = (jobId or '') .. '|' .. (did or '') .. '|' .. (route or '') .. '|' .. (worker or '') .. '|' .. nowText() .. '|' .. data
  else
    lines[n] = (jobId or '') .. '|' .. (did or '') .. '|' .. (route or '') .. '|' .. (worker or '') .. '|' .. nowText()
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
`;
