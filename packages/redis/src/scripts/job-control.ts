
/**
 * cancel — cancels a job: queued deliveries end at once, running ones get a cancel request.
 * Reads:   ARGV[7] job id; the job's and its deliveries' records.
 * Writes:  the records, the due and delayed sets and lists, 'counts', events 'cancelled' | 'cancel-requested'.
 * Returns: 1 if anything was left to cancel, else 0.
 */
export const CANCEL_LUA = `
local jobId = ARGV[7]
local job = jobRecord(jobId)
local nd = job and (job.N or 1) or 0
local err = cjson.encode({ name = 'SkqError', code = 'CANCELLED', message = 'job ' .. jobId .. ' was cancelled' })
local any = 0
for i = 0, nd - 1 do
  local did = jobId .. '.' .. i
  local d = delivery(did)
  if d and d.state == 'queued' then
    unqueue(did, d)
    finish(did, d, 'queued', 'cancelled', nil, err, nil)
    any = 1
  elseif d and d.state == 'running' then
    dput(d, { C = '1' })
    ev('cancel-requested', jobId, did, d.route, d.worker)
    any = 1
  end
end
flush()
return any
`;

/**
 * reschedule — moves a job's queued deliveries to a new run time.
 * Reads:   ARGV[7] job id, ARGV[8] run time (epoch ms); the job's and its deliveries' records.
 * Writes:  the deliveries' runAt, the due and delayed sets and lists, events 'rescheduled'.
 * Returns: how many deliveries moved.
 */
export const RESCHEDULE_LUA = `
local jobId, runAt = ARGV[7], ARGV[8]
local job = jobRecord(jobId)
local nd = job and (job.N or 1) or 0
local moved = 0
for i = 0, nd - 1 do
  local did = jobId .. '.' .. i
  local d = delivery(did)
  if d and d.state == 'queued' then
    unqueue(did, d)
    dput(d, { u = runAt })
    requeue(did, d, runAt)
    ev('rescheduled', jobId, did, d.route, nil)
    moved = moved + 1
  end
end
flush()
return moved
`;
