
/**
 * How many ARGV entries a template takes in the enqueue step: what the jobs of a batch mostly share
 * (name, routes, type, priority, runAt, attempts, dedupe key, createdAt, run options, keepS, keepF, group).
 */
export const TEMPLATE_FIELDS = 12;

/**
 * Lua: enqueueJobs(first), the enqueue step over ARGV[first..] without flush(): ARGV[first] the number
 * of templates, then the templates (TEMPLATE_FIELDS entries each), then per job its id, its args (JSON)
 * and the number of its template (1-based). Jobs fired together share one template, so a batch costs
 * three arguments per job.
 */
export const ENQUEUE_FN = `
local function enqueueJobs(first)
local out = {}
local live = nil
local heard = hears('enqueued')
-- Templates, read once: their fields, and the deliveries their routes (and for a broadcast, the live workers) make.
local templates = {}
local jobsAt = first + 1 + tonumber(ARGV[first]) * ${TEMPLATE_FIELDS}
for at = first + 1, jobsAt - 1, ${TEMPLATE_FIELDS} do
  local t = { name = ARGV[at], routes = ARGV[at + 1], kind = ARGV[at + 2], priority = tonumber(ARGV[at + 3]), runAt = tonumber(ARGV[at + 4]),
    attempts = tonumber(ARGV[at + 5]), dedupe = ARGV[at + 6], created = tonumber(ARGV[at + 7]), opts = ARGV[at + 8], keepS = ARGV[at + 9],
    keepF = ARGV[at + 10], group = ARGV[at + 11], targets = {} }
  -- Groups are a direct queue's (a broadcast delivers to every worker).
  if t.group == '' or t.kind ~= 'direct' then t.group = nil end
  for route in string.gmatch(t.routes, '[^,]+') do
    if t.kind == 'broadcast' then
      if not live then
        live = {}
        for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', NOW, '+inf')) do
          live[#live + 1] = { w, ',' .. (redis.call('HGET', P .. ':worker:' .. w, 'routes') or '') .. ',' }
        end
      end
      for _, w in ipairs(live) do
        if string.find(w[2], ',' .. route .. ',', 1, true) then t.targets[#t.targets + 1] = { route, w[1] } end
      end
    else
      t.targets[#t.targets + 1] = { route, '' }
    end
  end
  for _, target in ipairs(t.targets) do target[3] = P .. ':waiting:' .. target[1] end
  templates[#templates + 1] = t
end
-- Which ids are stored already, for a batch of three or more: one HMGET, and the new records written by flush()
-- in one HSET, where an HSETNX a job was most of a batch's calls (a call from Lua costs about a microsecond).
local stored = nil
if (#ARGV - jobsAt + 1) / 3 >= 3 then
  stored = {}
  local ids = {}
  for i = jobsAt, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
  for from = 1, #ids, 1000 do
    local upto = math.min(from + 999, #ids)
    local got = redis.call('HMGET', JOBS, unpack(ids, from, upto))
    for k = from, upto do
      if got[k - from + 1] then stored[ids[k]] = true end
    end
  end
end
local queued, unhanded = {}, {}
for i = jobsAt, #ARGV, 3 do
  local id, args, t = ARGV[i], ARGV[i + 1], templates[tonumber(ARGV[i + 2])]
  local targets, priority, runAt, dedupe = t.targets, t.priority, t.runAt, t.dedupe
  local existing = nil
  if dedupe ~= '' then existing = redis.call('HGET', P .. ':dedupe', dedupe) end
  if existing == id then existing = nil end
  if existing then
    out[#out + 1] = '=' .. existing
  else
    -- The job's own fields, with delivery 0's in the same record (field names: common.ts).
    local job = { n = t.name, a = args, c = t.created, m = t.attempts }
    if not (targets[1] and t.routes == targets[1][1]) then job.R = t.routes end
    if #targets ~= 1 then job.N = #targets end
    if t.kind ~= 'direct' then job.t = t.kind end
    if t.opts ~= '' then job.O = t.opts end
    if t.keepS ~= '' then job.kS = t.keepS end
    if t.keepF ~= '' then job.kF = t.keepF end
    if priority ~= 0 then job.p = priority end
    if t.group then job.g = t.group end
    if #targets == 0 then
      job.b = 1; job.E = 'cancelled'; job.o = 0; job.e = NOW
    else
      if #targets > 1 then job.o = #targets end
      if dedupe ~= '' then job.k = dedupe end
    end
    -- Where each delivery goes; one that goes to a sorted set gets a seq (equal scores keep enqueue order).
    -- Delivery 0 is the job's record and its place a local: the tables of the others are made only for jobs
    -- with several (a table costs about a microsecond here, a good part of a job's enqueue).
    -- Delivery 0 of a job due now, of no group, priority 0 and addressed to no one, goes straight to a worker
    -- parked on its route ('handed', leased in the record before it is first written) when nothing of its route
    -- comes before it (nor one of this call: unhanded).
    local place0, records, others, handedTo, handLease, parking
    for n, target in ipairs(targets) do
      local r = job
      if n > 1 then r = { p = job.p, m = job.m }; records = records or {}; records[n] = r end
      r.r = target[1]; r.s = 'q'
      if target[2] ~= '' then r.T = target[2] end
      if n > 1 or runAt ~= job.c then r.u = runAt end
      local place
      if n == 1 and runAt <= NOW and not t.group and priority == 0 and target[2] == '' and not unhanded[target[1]] then
        handedTo, handLease, parking = parkedWorker(target[1])
        if handedTo then place = 'handed'; leaseHanded(job, handedTo, handLease) end
      end
      place = place or (runAt > NOW and 'delayed') or (t.group and groupPlacement(target[1], t.group, priority, runAt)) or placement(target[1], target[2], priority, runAt)
      if n == 1 then place0 = place else others = others or {}; others[n] = place end
      if place ~= 'list' and place ~= 'glist' and place ~= 'handed' then r.q = nextSeq() end
    end
    -- A resent enqueue never duplicates a job: an id stored before (or earlier in this batch, as HSETNX would
    -- have it) is answered as it is.
    local new
    if stored then
      local jobs = cacheOf(JOBS)
      new = not stored[id] and jobs[id] == nil
      if new then jobs[id] = job; markDirty(JOBS, id) end
    else
      new = redis.call('HSETNX', JOBS, id, cmsgpack.pack(job)) == 1
      if new then cacheOf(JOBS)[id] = job end
    end
    if not new then
      if handedTo then parkAgain(targets[1][1], parking) end
      local kept = jobRecord(id)
      out[#out + 1] = kept and (kept.N or 1) or 0
    else
      if #targets == 0 then
        -- A broadcast nobody listened to ended as it was stored: with the failed and cancelled jobs, under their retention.
        ev('cancelled', id, nil, nil, nil)
        local keep = keepOf(job.kF, 'failed')
        if keep[1] == 0 then
          removeJob(id, nil, 0)
        else
          redis.call('LPUSH', P .. ':ended:failed', id)
          trim(P .. ':ended:failed', keep)
        end
      elseif dedupe ~= '' then
        redis.call('HSET', P .. ':dedupe', dedupe, id)
      end
      for n, target in ipairs(targets) do
        local did = id .. '.' .. (n - 1)
        local record, place = job, place0
        if n > 1 then
          record, place = records[n], others[n]
          cacheOf(DELIVERIES)[did] = record
          markDirty(DELIVERIES, did)
        end
        -- A job handed to a parked worker is started below, once its enqueued event is out.
        local handed = place == 'handed'
        if not handed then
          unhanded[target[1]] = true
          if place == 'list' then
            pushLater(target[3], did)
          elseif place == 'delayed' then
            zaddLater(P .. ':delayed:' .. target[1], runAt, member(record.q, did))
            addressed(target[1], target[2])
          else
            makeReady(place, target[1], target[2], did, record.q, priority, runAt, t.group)
          end
        end
        queued[target[1]] = (queued[target[1]] or 0) + 1
        groupCount(t.group, 'queued', 1)
        if heard then ev('enqueued', id, did, target[1], handed and handedTo or target[2]) end
        if handed then startHanded(handedTo, handLease, job, id, did, target[1]) end
      end
      out[#out + 1] = #targets
    end
  end
end
for route, n in pairs(queued) do count(route, 'queued', n) end
-- Jobs not handed over as they came may still go to a worker parked on their route, by a claim.
for route in pairs(unhanded) do handOff(route) end
return out
end
`;

/**
 * enqueue — stores a batch of jobs with their deliveries.
 * Reads:   from ARGV[7], the batch as enqueueJobs takes it; a template's fields: name, routes (comma-separated),
 *          type, priority, runAt, attempts, dedupe key ('' for none), createdAt, run options other than
 *          attempts (JSON, '' when they are the defaults), the job's own retention of succeeded and of
 *          failed jobs ('<count>,<ageMs>', '' for the backend's), group ('' for none); the dedupe hash; for broadcast
 *          jobs, the live workers.
 * Writes:  'job' (the job with delivery 0), 'delivery' (deliveries n ≥ 1), 'dedupe', 'seq', 'waiting:<route>',
 *          'prio:<route>', 'ready:<route>:@<worker>', 'gl:<route>|<group>' or 'gq:<route>|<group>' with 'gin:<route>', 'gz:<route>', 'gkeys:<route>' and 'gturns:<route>', or
 *          'delayed:<route>', 'addressed', 'counts', 'gcounts', 'ended:failed' (a
 *          broadcast nobody listens to), events 'enqueued' | 'cancelled'; for a worker parked on a route
 *          ('parked:<route>'), what a claim writes and its hand-off list ('handoff:<worker>', hand-off.ts).
 * A job id already stored is answered as it is, so a resent enqueue never duplicates a job.
 * Returns: per input job, its number of deliveries (a resent id: those stored), or '=' and the id of the job its
 *          dedupe key names (deduped): one short entry a job, as most answers are the job's own id, not deduped.
 */
export const ENQUEUE_LUA = `
local out = enqueueJobs(7)
flush()
return out
`;
