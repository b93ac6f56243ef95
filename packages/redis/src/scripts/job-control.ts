import { COMMON_LUA } from './common.js';

/**
 * cancel — cancels a job: queued deliveries end at once, running ones get a cancel request.
 * Reads:   ARGV[7] job id; job:<id> (delivery count), d:<id>.<n>.
 * Writes:  d:<id>.<n>, ready/delayed sets, 'counts', job:<id>, events 'cancelled' | 'cancel-requested'.
 * Returns: 1 if anything was left to cancel, else 0.
 */
export const CANCEL_LUA = `${COMMON_LUA}
local jobId = ARGV[7]
local nd = tonumber(redis.call('HGET', P .. ':job:' .. jobId, 'nd') or '0')
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
    redis.call('HSET', d.key, 'cancel', 1)
    ev('cancel-requested', jobId, did, d.route, d.worker)
    any = 1
  end
end
flush()
return any
`;

/**
 * reschedule — moves a job's queued deliveries to a new run time.
 * Reads:   ARGV[7] job id, ARGV[8] run time (epoch ms); job:<id>, d:<id>.<n>.
 * Writes:  d:<id>.<n> runAt, ready/delayed sets, events 'rescheduled'.
 * Returns: how many deliveries moved.
 */
export const RESCHEDULE_LUA = `${COMMON_LUA}
local jobId, runAt = ARGV[7], ARGV[8]
local nd = tonumber(redis.call('HGET', P .. ':job:' .. jobId, 'nd') or '0')
local moved = 0
for i = 0, nd - 1 do
  local did = jobId .. '.' .. i
  local d = delivery(did)
  if d and d.state == 'queued' then
    unqueue(did, d)
    redis.call('HSET', d.key, 'runAt', runAt)
    requeue(did, d, runAt)
    ev('rescheduled', jobId, did, d.route, nil)
    moved = moved + 1
  end
end
flush()
return moved
`;
