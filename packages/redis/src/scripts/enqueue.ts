import { COMMON_LUA } from './common.js';

/** How many ARGV entries each job takes in the enqueue script. */
export const ENQUEUE_FIELDS = 13;

/** Lua: enqueueJobs(first, last), the enqueue step over ARGV[first..last], without flush(). */
export const ENQUEUE_FN = `
local function enqueueJobs(first, last)
local out = {}
local live = nil
local seq = tonumber(redis.call('GET', P .. ':seq') or '0')
for i = first, last, ${ENQUEUE_FIELDS} do
  local id, name, args, routes, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local priority, runAt, attempts, dedupe, created, opts = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], ARGV[i + 10]
  local jk = P .. ':job:' .. id
  local existing = nil
  if dedupe ~= '' then existing = redis.call('HGET', P .. ':dedupe', dedupe) end
  if existing == id then existing = nil end
  if existing then
    out[#out + 1] = existing; out[#out + 1] = 1; out[#out + 1] = 0
  elseif redis.call('HSETNX', jk, 'name', name) == 0 then
    out[#out + 1] = id; out[#out + 1] = 0; out[#out + 1] = tonumber(redis.call('HGET', jk, 'nd') or '0')
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
    -- The job's own fields, with delivery 0's fields in the same hash. Values stay small, so Redis
    -- keeps the hash in its compact listpack form.
    local fields = { 'args', args, 'routes', routes, 'created', created, 'nd', #targets, 'open', #targets }
    if kind ~= 'direct' then fields[#fields + 1] = 'type'; fields[#fields + 1] = kind end
    if opts ~= '' then fields[#fields + 1] = 'opts'; fields[#fields + 1] = opts end
    if ARGV[i + 11] ~= '' then fields[#fields + 1] = 'keepS'; fields[#fields + 1] = ARGV[i + 11] end
    if ARGV[i + 12] ~= '' then fields[#fields + 1] = 'keepF'; fields[#fields + 1] = ARGV[i + 12] end
    if #targets == 0 then
      fields[#fields + 1] = 'bad'; fields[#fields + 1] = 1; fields[#fields + 1] = 'empty'; fields[#fields + 1] = 'cancelled'
      fields[#fields + 1] = 'priority'; fields[#fields + 1] = priority; fields[#fields + 1] = 'max'; fields[#fields + 1] = attempts
      ev('cancelled', id, nil, nil, nil)
    elseif dedupe ~= '' then
      fields[#fields + 1] = 'dedupe'; fields[#fields + 1] = dedupe
      redis.call('HSET', P .. ':dedupe', dedupe, id)
    end
    zaddLater(P .. ':jobs', created, id)
    for n, t in ipairs(targets) do
      local did = id .. '.' .. (n - 1)
      seq = seq + 1
      local f = fields
      if n > 1 then f = {} end
      f[#f + 1] = 'route'; f[#f + 1] = t[1]
      if t[2] ~= '' then f[#f + 1] = 'target'; f[#f + 1] = t[2] end
      f[#f + 1] = 'state'; f[#f + 1] = 'queued'; f[#f + 1] = 'priority'; f[#f + 1] = priority; f[#f + 1] = 'runAt'; f[#f + 1] = ARGV[i + 6]
      f[#f + 1] = 'attempts'; f[#f + 1] = 0; f[#f + 1] = 'max'; f[#f + 1] = attempts; f[#f + 1] = 'seq'; f[#f + 1] = seq
      redis.call('HSET', (dkey(did)), unpack(f))
      if runAt > NOW then
        zaddLater(P .. ':delayed:' .. t[1], ARGV[i + 6], member(seq, did))
      else
        zaddLater(readyKey(t[1], t[2]), fmt(score(priority, runAt)), member(seq, did))
      end
      addressed(t[1], t[2])
      count(t[1], 'queued', 1)
      ev('enqueued', id, did, t[1], t[2])
    end
    if #targets == 0 then redis.call('HSET', jk, unpack(fields)) end
    out[#out + 1] = id; out[#out + 1] = 0; out[#out + 1] = #targets
  end
end
redis.call('SET', P .. ':seq', seq)
return out
end
`;

/**
 * enqueue — stores a batch of jobs with their deliveries.
 * Reads:   from ARGV[7], 13 entries per job: id, name, args (JSON), routes (comma-separated), type,
 *          priority, runAt, attempts, dedupe key ('' for none), createdAt, run options other than
 *          attempts (JSON, '' when they are the defaults), the job's own retention of succeeded and of
 *          failed jobs ('<count>,<ageMs>', '' for the backend's); the dedupe hash; for broadcast jobs, the live workers.
 * Writes:  job:<id>, d:<id>.<n>, 'jobs', 'dedupe', 'seq', ready/delayed sets, 'addressed', 'counts', events 'enqueued'.
 * A job id already stored is answered as it is, so a resent enqueue never duplicates a job.
 * Returns: a flat array: job id, 1 if deduped else 0, number of deliveries; per input job.
 */
export const ENQUEUE_LUA = `${COMMON_LUA}${ENQUEUE_FN}
local out = enqueueJobs(7, #ARGV)
flush()
return out
`;
