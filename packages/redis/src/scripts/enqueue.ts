
/**
 * How many ARGV entries a template takes in the enqueue step: what the jobs of a batch mostly share
 * (name, routes, type, priority, runAt, attempts, dedupe key, createdAt, run options, keepS, keepF).
 */
export const TEMPLATE_FIELDS = 11;

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
local templates = {}
local jobsAt = first + 1 + tonumber(ARGV[first]) * ${TEMPLATE_FIELDS}
for t = first + 1, jobsAt - 1, ${TEMPLATE_FIELDS} do
  templates[#templates + 1] = t
end
for i = jobsAt, #ARGV, 3 do
  local id, args, at = ARGV[i], ARGV[i + 1], templates[tonumber(ARGV[i + 2])]
  local name, routes, kind = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local priority, runAt, attempts, dedupe, created, opts = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4]), ARGV[at + 5], ARGV[at + 6], ARGV[at + 7], ARGV[at + 8]
  local keepS, keepF = ARGV[at + 9], ARGV[at + 10]
  local existing = nil
  if dedupe ~= '' then existing = redis.call('HGET', P .. ':dedupe', dedupe) end
  if existing == id then existing = nil end
  if existing then
    out[#out + 1] = existing; out[#out + 1] = 1; out[#out + 1] = 0
  else
    local targets = {}
    for route in string.gmatch(routes, '[^,]+') do
      if kind == 'broadcast' then
        if not live then
          live = {}
          for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', NOW, '+inf')) do
            live[#live + 1] = { w, ',' .. (redis.call('HGET', P .. ':worker:' .. w, 'routes') or '') .. ',' }
          end
        end
        for _, w in ipairs(live) do
          if string.find(w[2], ',' .. route .. ',', 1, true) then targets[#targets + 1] = { route, w[1] } end
        end
      else
        targets[#targets + 1] = { route, '' }
      end
    end
    -- The job's own fields, with delivery 0's in the same record (field names: common.ts).
    local job = { n = name, a = args, c = tonumber(created), m = tonumber(attempts) }
    if not (targets[1] and routes == targets[1][1]) then job.R = routes end
    if #targets ~= 1 then job.N = #targets end
    if kind ~= 'direct' then job.t = kind end
    if opts ~= '' then job.O = opts end
    if keepS ~= '' then job.kS = keepS end
    if keepF ~= '' then job.kF = keepF end
    if priority ~= 0 then job.p = priority end
    if #targets == 0 then
      job.b = 1; job.E = 'cancelled'; job.o = 0
    else
      if #targets > 1 then job.o = #targets end
      if dedupe ~= '' then job.k = dedupe end
    end
    -- Where each delivery goes; one that goes to a sorted set gets a seq (equal scores keep enqueue order).
    local records, places = { job }, {}
    for n, t in ipairs(targets) do
      local r = job
      if n > 1 then r = { p = job.p, m = job.m }; records[n] = r end
      r.r = t[1]; r.s = 'q'
      if t[2] ~= '' then r.T = t[2] end
      if n > 1 or runAt ~= job.c then r.u = runAt end
      places[n] = runAt > NOW and 'delayed' or placement(t[1], t[2], priority, runAt)
      if places[n] ~= 'list' then r.q = nextSeq() end
    end
    -- One command both checks that the id is new and stores the job: a resent enqueue never duplicates it.
    if redis.call('HSETNX', JOBS, id, cmsgpack.pack(job)) == 0 then
      local stored = jobRecord(id)
      out[#out + 1] = id; out[#out + 1] = 0; out[#out + 1] = stored and (stored.N or 1) or 0
    else
      cache[JOBS][id] = job
      if #targets == 0 then
        ev('cancelled', id, nil, nil, nil)
      elseif dedupe ~= '' then
        redis.call('HSET', P .. ':dedupe', dedupe, id)
      end
      for n, t in ipairs(targets) do
        local did = id .. '.' .. (n - 1)
        if n > 1 then
          cache[DELIVERIES][did] = records[n]
          dirty[DELIVERIES][did] = true; table.insert(dirtyOrder[DELIVERIES], did)
        end
        if places[n] == 'delayed' then
          zaddLater(P .. ':delayed:' .. t[1], runAt, member(records[n].q, did))
          addressed(t[1], t[2])
        else
          makeReady(places[n], t[1], t[2], did, records[n].q, priority, runAt)
        end
        count(t[1], 'queued', 1)
        ev('enqueued', id, did, t[1], t[2])
      end
      out[#out + 1] = id; out[#out + 1] = 0; out[#out + 1] = #targets
    end
  end
end
return out
end
`;

/**
 * enqueue — stores a batch of jobs with their deliveries.
 * Reads:   from ARGV[7], the batch as enqueueJobs takes it; a template's fields: name, routes (comma-separated),
 *          type, priority, runAt, attempts, dedupe key ('' for none), createdAt, run options other than
 *          attempts (JSON, '' when they are the defaults), the job's own retention of succeeded and of
 *          failed jobs ('<count>,<ageMs>', '' for the backend's); the dedupe hash; for broadcast jobs, the live workers.
 * Writes:  'job' (the job with delivery 0), 'delivery' (deliveries n ≥ 1), 'dedupe', 'seq', 'waiting:<route>',
 *          'prio:<route>', 'ready:<route>:@<worker>' or 'delayed:<route>', 'addressed', 'counts', events 'enqueued'.
 * A job id already stored is answered as it is, so a resent enqueue never duplicates a job.
 * Returns: a flat array: job id, 1 if deduped else 0, number of deliveries; per input job.
 */
export const ENQUEUE_LUA = `
local out = enqueueJobs(7)
flush()
return out
`;
