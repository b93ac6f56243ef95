
/**
 * retry-job — runs a job's failed and cancelled deliveries again with a fresh budget.
 * Reads:   ARGV[7] job id, ARGV[8] run time (epoch ms), ARGV[9] attempts in the new budget; the job's and its
 *          deliveries' records.
 * Writes:  the deliveries (state queued, runAt, max = attempts − recoveries + budget, outcome fields cleared),
 *          the job (att0 keeps the original budget, open, bad), 'delayed:<route>', 'ended:*', 'counts', 'gcounts', events 'retrying'.
 * Returns: how many deliveries it queued (0 for a job with none to retry: of two calls at once, one gets 0).
 */
export const RETRY_JOB_LUA = `
local jobId, runAt, budget = ARGV[7], ARGV[8], tonumber(ARGV[9])
local j = jobRecord(jobId)
local nd = j and (j.N or 1) or 0
local moved = 0
local original = j and (j.A or j.m)
for i = 0, nd - 1 do
  local did = jobId .. '.' .. i
  local d = delivery(did)
  if d and (d.state == 'failed' or d.state == 'cancelled') then
    dput(d, { s = 'queued', u = runAt, m = d.attempts - d.recs + budget, w = '', l = '', f = '', v = '', X = '', C = '' })
    requeue(did, d, runAt)
    count(d.route, d.state, -1)
    count(d.route, 'queued', 1)
    groupCount(d.group, 'queued', 1)
    ev('retrying', jobId, did, d.route, nil)
    moved = moved + 1
  end
end
if moved > 0 then
  local changes = { A = original, b = '', e = '' }
  if nd > 1 then changes.o = (j.o or 0) + moved end
  rput(JOBS, jobId, changes)
  redis.call('LREM', P .. ':ended:failed', 1, jobId)
  redis.call('LREM', P .. ':ended:succeeded', 1, jobId)
end
flush()
return moved
`;

/**
 * remove-jobs — deletes jobs with their deliveries and logs, skipping any with a running delivery.
 * Reads:   ARGV[7…] job ids; their records.
 * Writes:  deletes the records and logs:<id>; the due and delayed sets and lists, 'ended:*', 'dedupe',
 *          'counts'; events 'removed'.
 * Returns: the ids deleted.
 */
export const REMOVE_JOBS_LUA = `
local removed = {}
for i = 7, #ARGV do
  local jobId = ARGV[i]
  local j = jobRecord(jobId)
  if j then
    local nd = j.N or 1
    local running = false
    local ds = {}
    for n = 0, nd - 1 do
      local did = jobId .. '.' .. n
      ds[n] = delivery(did)
      if ds[n] and ds[n].state == 'running' then running = true end
    end
    if not running then
      local ended = true
      for n = 0, nd - 1 do
        if ds[n] and ds[n].state == 'queued' then unqueue(jobId .. '.' .. n, ds[n]); ended = false end
      end
      if j.k and redis.call('HGET', P .. ':dedupe', j.k) == jobId then redis.call('HDEL', P .. ':dedupe', j.k) end
      removeJob(jobId, nil, nd)
      if ended then
        redis.call('LREM', P .. ':ended:failed', 1, jobId)
        redis.call('LREM', P .. ':ended:succeeded', 1, jobId)
      end
      ev('removed', jobId, nil, nil, nil)
      removed[#removed + 1] = jobId
    end
  end
end
flush()
return removed
`;

/**
 * set-progress — stores a running attempt's progress.
 * Reads:   ARGV[7] worker id, ARGV[8] delivery id, ARGV[9] attempt, ARGV[10] progress JSON; the delivery's record.
 * Writes:  the record's progress, event 'progress' (with the JSON).
 * Returns: 'ok', 'missing' or 'lost:<state>:<attempt>:<holder>'.
 */
export const SET_PROGRESS_LUA = `
local worker, did, attempt, progress = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local d = delivery(did)
local status = 'ok'
if not d then
  status = 'missing'
elseif not holds(d, worker, attempt) then
  status = lostStatus(d)
else
  dput(d, { P = progress })
  ev('progress', d.job, did, d.route, worker, progress)
end
flush()
return status
`;

/**
 * set-paused — pauses or resumes a route ('*': the queue).
 * Reads:   ARGV[7] route, ARGV[8] '1' to pause, '0' to resume.
 * Writes:  'paused', event 'paused' | 'resumed'.
 * Returns: 1 if the state changed, else 0.
 */
export const SET_PAUSED_LUA = `
local route = ARGV[7]
local changed
if ARGV[8] == '1' then
  changed = redis.call('SADD', P .. ':paused', route)
  if changed == 1 then ev('paused', nil, nil, route, nil) end
else
  changed = redis.call('SREM', P .. ':paused', route)
  if changed == 1 then ev('resumed', nil, nil, route, nil) end
end
flush()
return changed
`;
