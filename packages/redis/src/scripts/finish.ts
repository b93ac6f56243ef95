
/** Lua: completeDeliveries(worker, first), the complete step over the triples from ARGV[first], without flush(). */
export const COMPLETE_FN = `
local function completeDeliveries(worker, first)
  local out = {}
  for i = first, #ARGV, 3 do
    local did = ARGV[i]
    local d = delivery(did)
    if not d then
      out[#out + 1] = 'missing'
    elseif not holds(d, worker, ARGV[i + 1]) then
      out[#out + 1] = lostStatus(d)
    else
      finish(did, d, 'running', 'succeeded', ARGV[i + 2], nil, worker)
      out[#out + 1] = 'ok'
    end
  end
  return out
end
`;

/**
 * complete — ends leased attempts with their results, many per call.
 * Reads:   ARGV[7] worker id, then triples ARGV[8+3k] delivery id, ARGV[9+3k] attempt number (the
 *          lease's fencing token), ARGV[10+3k] result JSON; the deliveries' records.
 * Writes:  the records (state succeeded, finished, result; the job's open count), 'active', 'counts',
 *          'ended:*' and retention removals, 'dedupe', events 'succeeded'.
 * Returns: per triple, 'ok', 'missing', or 'lost:<state>:<attempt>:<holder>' when that attempt no longer holds the lease.
 */
export const COMPLETE_LUA = `
local out = completeDeliveries(ARGV[7], 8)
flush()
return out
`;

/**
 * complete-and-claim — one worker's completions and its next claim in one call, as a worker that
 * has just finished jobs wants more: one round trip and one script run instead of two.
 * Reads:   ARGV[7] worker id, ARGV[8] route, ARGV[9] lease length (ms), ARGV[10] claim limit, ARGV[11] how long
 *          a waiting claim waits (ms, '0': it does not), then triples ARGV[12+3k] delivery id, ARGV[13+3k]
 *          attempt, ARGV[14+3k] result JSON.
 * Writes:  what complete and claim write.
 * Returns: { completion statuses (as complete returns them), claim result (as claim returns it) }.
 */
export const COMPLETE_AND_CLAIM_LUA = `
local done = completeDeliveries(ARGV[7], 12)
local claimed = claimDeliveries(ARGV[8], ARGV[7], tonumber(ARGV[9]), tonumber(ARGV[10]))
local waitMs = tonumber(ARGV[11]) or 0
if waitMs > 0 then parkIfIdle(claimed, ARGV[8], ARGV[7], tonumber(ARGV[9]), waitMs) end
flush()
return { done, claimed }
`;

/**
 * fail — ends a leased attempt with an error: retried at a time, failed, or cancelled.
 * Reads:   ARGV[7] worker id, ARGV[8] delivery id, ARGV[9] error JSON, ARGV[10] retry time ('' for none),
 *          ARGV[11] the outcome the worker's request asks for, as core's requestedFailureOutcome decides it
 *          ('cancelled' | 'retrying' | 'failed'; a cancel requested on the delivery makes it 'cancelled', as core's
 *          failureOutcome does), ARGV[12] attempt number, ARGV[13] '1' when the attempt was rate limited (not charged:
 *          the delivery's max attempts grow by one), ARGV[14] until when to hold the job's group ('' for none); the
 *          delivery's record.
 * Writes:  the delivery's and job's records, 'active', 'delayed:<route>' on retry, 'counts', 'gcounts', 'gholds', retention, events
 *          'retrying' | 'failed' | 'cancelled'.
 * Returns: 'retrying' | 'failed' | 'cancelled' | 'missing' | 'lost:<state>:<attempt>:<holder>'.
 */
export const FAIL_LUA = `
local worker, did, err, retryAt, requested, attempt, rateLimited, holdUntil = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local d = delivery(did)
local status
if not d then
  status = 'missing'
elseif not holds(d, worker, attempt) then
  status = lostStatus(d)
elseif requested == 'cancelled' or d.cancel == '1' then
  finish(did, d, 'running', 'cancelled', nil, err, worker)
  status = 'cancelled'
elseif requested == 'retrying' then
  -- A rate-limited attempt is not charged: the delivery's cap grows by the attempt it used.
  if rateLimited == '1' then dput(d, { s = 'queued', u = retryAt, l = '', X = err, m = d.max + 1 }) else dput(d, { s = 'queued', u = retryAt, l = '', X = err }) end
  if holdUntil and holdUntil ~= '' and d.group then
    local held = tonumber(redis.call('HGET', P .. ':gholds', d.group) or '0')
    if tonumber(holdUntil) > held then redis.call('HSET', P .. ':gholds', d.group, holdUntil) end
  end
  zremLater(P .. ':active', did)
  requeue(did, d, retryAt)
  count(d.route, 'running', -1)
  count(d.route, 'queued', 1)
  groupCount(d.group, 'running', -1)
  groupCount(d.group, 'queued', 1)
  ev('retrying', d.job, did, d.route, worker)
  status = 'retrying'
else
  finish(did, d, 'running', 'failed', nil, err, worker)
  status = 'failed'
end
flush()
return status
`;
