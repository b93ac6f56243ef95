import { COMMON_LUA } from './common.js';

/**
 * enqueue — stores a batch of jobs with their deliveries.
 * Reads:   ARGV[7] JSON array of { id, name, args, routes, routesJson, type, priority, runAt, createdAt,
 *          options, attempts, dedupe } (args, routesJson and options are JSON strings stored as they are);
 *          the dedupe hash; for broadcast jobs, the live workers (zset 'workers', hashes 'worker:<id>').
 * Writes:  job:<id>, d:<id>.<n>, 'jobs', 'dedupe', ready/delayed sets, 'counts', events 'enqueued'.
 * A job id already stored is answered as it is, so a resent enqueue never duplicates a job.
 * Returns: a flat array: job id, 1 if deduped else 0, number of deliveries; per input job.
 */
export const ENQUEUE_LUA = `${COMMON_LUA}
local jobs = cjson.decode(ARGV[7])
local out = {}
local live = nil
for _, j in ipairs(jobs) do
  local dedupe = j.dedupe
  if dedupe == cjson.null then dedupe = nil end
  local existing = nil
  local jk = P .. ':job:' .. j.id
  if redis.call('EXISTS', jk) == 1 then
    -- A resent enqueue (the reply was lost to a dropped connection): the job is stored already.
    table.insert(out, j.id); table.insert(out, 0); table.insert(out, tonumber(redis.call('HGET', jk, 'nd')))
  else
  if dedupe then existing = redis.call('HGET', P .. ':dedupe', dedupe) end
  if existing then
    table.insert(out, existing); table.insert(out, 1); table.insert(out, 0)
  else
    local targets = {}
    if j.type == 'broadcast' then
      if not live then
        live = {}
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', NOW, '+inf')) do
          local routes = redis.call('HGET', P .. ':worker:' .. id, 'routes') or ''
          table.insert(live, { id = id, routes = ',' .. routes .. ',' })
        end
      end
      for _, route in ipairs(j.routes) do
        for _, w in ipairs(live) do
          if string.find(w.routes, ',' .. route .. ',', 1, true) then table.insert(targets, { route, w.id }) end
        end
      end
    else
      for _, route in ipairs(j.routes) do table.insert(targets, { route, '' }) end
    end
    redis.call('HSET', jk, 'name', j.name, 'args', j.args, 'routes', j.routesJson, 'type', j.type, 'priority', j.priority,
      'created', fmt(j.createdAt), 'options', j.options, 'dedupe', dedupe or '', 'nd', #targets, 'open', #targets, 'bad', 0)
    redis.call('ZADD', P .. ':jobs', fmt(j.createdAt), j.id)
    if #targets == 0 then
      redis.call('HSET', jk, 'empty', 'cancelled', 'bad', 1)
      ev('cancelled', j.id, nil, nil, nil)
    elseif dedupe then
      redis.call('HSET', P .. ':dedupe', dedupe, j.id)
    end
    for i, t in ipairs(targets) do
      local did = j.id .. '.' .. (i - 1)
      local seq = redis.call('INCR', P .. ':seq')
      redis.call('HSET', P .. ':d:' .. did, 'job', j.id, 'route', t[1], 'target', t[2], 'state', 'queued', 'priority', j.priority,
        'runAt', fmt(j.runAt), 'attempts', 0, 'max', j.attempts, 'rec', 0, 'seq', seq, 'cancel', 0)
      local m = member(seq, did)
      if j.runAt > NOW then
        redis.call('ZADD', P .. ':delayed:' .. t[1], fmt(j.runAt), m)
      else
        redis.call('ZADD', readyKey(t[1], t[2]), fmt(score(j.priority, j.runAt)), m)
      end
      count(t[1], 'queued', 1)
      ev('enqueued', j.id, did, t[1], t[2])
    end
    table.insert(out, j.id); table.insert(out, 0); table.insert(out, #targets)
  end
  end
end
return out
`;
