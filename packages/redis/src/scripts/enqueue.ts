
/** How many ARGV entries each job takes in the enqueue script. */
export const ENQUEUE_FIELDS = 13;

/** Lua: enqueueJobs(first, last), the enqueue step over ARGV[first..last], without flush(). */
export const ENQUEUE_FN = `
local function enqueueJobs(first, last)
local out = {}
local live = nil
for i = first, last, ${ENQUEUE_FIELDS} do
  local id, name, args, routes, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local priority, runAt, attempts, dedupe, created, opts = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], ARGV[i + 10]
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
    if ARGV[i + 11] ~= '' then job.kS = ARGV[i + 11] end
    if ARGV[i + 12] ~= '' then job.kF = ARGV[i + 12] end
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
          zaddLater(P .. ':delayed:' .. t[1], ARGV[i + 6], member(records[n].q, did))
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
 * Reads:   from ARGV[7], 13 entries per job: id, name, args (JSON), routes (comma-separated), type,
 *          priority, runAt, attempts, dedupe key ('' for none), createdAt, run options other than
 *          attempts (JSON, '' when they are the defaults), the job's own retention of succeeded and of
 *          failed jobs ('<count>,<ageMs>', '' for the backend's); the dedupe hash; for broadcast jobs, the live workers.
 * Writes:  'job' (the job with delivery 0), 'delivery' (deliveries n ≥ 1), 'dedupe', 'seq', 'waiting:<route>',
 *          'prio:<route>', 'ready:<route>:@<worker>' or 'delayed:<route>', 'addressed', 'counts', events 'enqueued'.
 * A job id already stored is answered as it is, so a resent enqueue never duplicates a job.
 * Returns: a flat array: job id, 1 if deduped else 0, number of deliveries; per input job.
 */
export const ENQUEUE_LUA = `
local out = enqueueJobs(7, #ARGV)
flush()
return out
`;
