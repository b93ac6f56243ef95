
/**
 * extend-lease — renews the leases a worker's attempts still hold.
 * Reads:   ARGV[7] worker id, ARGV[8] lease length (ms), then pairs ARGV[9+2k] delivery id,
 *          ARGV[10+2k] attempt number; the deliveries' records.
 * Writes:  the records' lease, 'active' scores.
 * Returns: the ids whose lease that attempt still held and now extended.
 */
export const EXTEND_LEASE_LUA = `
local worker, lease = ARGV[7], fmt(NOW + tonumber(ARGV[8]))
local held = {}
for i = 9, #ARGV, 2 do
  local did = ARGV[i]
  local d = delivery(did)
  if d and holds(d, worker, ARGV[i + 1]) then
    dput(d, { l = lease })
    zaddLater(P .. ':active', lease, did)
    table.insert(held, did)
  end
end
flush()
return held
`;

/**
 * recover-expired — takes back running deliveries whose lease ended before now (500 per call), and fails
 * the queued broadcast deliveries addressed to a worker that is gone (500 per worker and route per call).
 * Reads:   ARGV[7] how many recoveries a delivery may have; ARGV[8] the WORKER_GONE error, as core's
 *          workerGoneError makes it, with @@ID@@ and @@WORKER@@ in its message; ARGV[9] and ARGV[10] the
 *          LEASE_LOST errors of an expired lease ending cancelled and failed, as core's expiredLeaseError
 *          makes them, with @@ID@@, @@WORKER@@ and @@TIMES@@ (how many times the lease expired) in their
 *          messages; 'active' (score = lease end), the deliveries' records; 'addressed', 'workers' (score = expiry),
 *          ready:<route>:@<worker>.
 * Writes:  records back to queued (recoveries+1) via 'delayed:<route>', or failed with LEASE_LOST, or
 *          cancelled when a cancel was requested; queued deliveries of gone workers failed with WORKER_GONE;
 *          'addressed' (pairs left with nothing queued), 'active', 'counts', 'gcounts' (a page of it per call: counts at 0
 *          deleted, 'gcounts:cursor' where the next page starts), 'gholds' (holds that ended deleted), events 'recovered' | 'failed' | 'cancelled'.
 * Returns: how many deliveries were taken back or failed.
 */
export const RECOVER_LUA = `
local maxRecoveries = tonumber(ARGV[7])
-- One of core's errors, given as JSON, with its message's @@NAME@@ placeholders filled in from 'values'.
local function coreError(template, values)
  local e = cjson.decode(template)
  e.message = string.gsub(e.message, '@@(%u+)@@', function(name) return values[name] end)
  return cjson.encode(e)
end
local expired = redis.call('ZRANGEBYSCORE', P .. ':active', '-inf', '(' .. fmt(NOW), 'LIMIT', 0, 500)
local n = 0
for _, did in ipairs(expired) do
  local d = delivery(did)
  if not d or d.state ~= 'running' then
    zremLater(P .. ':active', did)
  else
    n = n + 1
    local lost = { ID = did, WORKER = d.worker or '?', TIMES = tostring(d.recs + 1) }
    if d.cancel == '1' then
      finish(did, d, 'running', 'cancelled', nil, coreError(ARGV[9], lost), d.worker)
    elseif d.recs < maxRecoveries then
      dput(d, { s = 'queued', u = NOW, l = '', z = d.recs + 1 })
      zremLater(P .. ':active', did)
      requeue(did, d, fmt(NOW))
      count(d.route, 'running', -1)
      count(d.route, 'queued', 1)
      groupCount(d.group, 'running', -1)
      groupCount(d.group, 'queued', 1)
      ev('recovered', d.job, did, d.route, d.worker)
    else
      finish(did, d, 'running', 'failed', nil, coreError(ARGV[10], lost), d.worker)
    end
  end
end
for _, pair in ipairs(redis.call('SMEMBERS', P .. ':addressed')) do
  local route, worker = string.match(pair, '^(.*)|([^|]*)$')
  local expires = redis.call('ZSCORE', P .. ':workers', worker)
  if not expires or tonumber(expires) < NOW then
    local key = readyKey(route, worker)
    local members = redis.call('ZRANGE', key, 0, 499)
    for _, m in ipairs(members) do
      local did = string.sub(m, 18)
      local d = delivery(did)
      if d and d.state == 'queued' then
        unqueue(did, d)
        finish(did, d, 'queued', 'failed', nil, coreError(ARGV[8], { ID = did, WORKER = worker }), worker)
        n = n + 1
      else
        redis.call('ZREM', key, m)
      end
    end
    if #members < 500 then redis.call('SREM', P .. ':addressed', pair) end
  end
end
-- Holds that ended are let go, and groups' counts back at 0 deleted (a page of the hash per call).
local holds = redis.call('HGETALL', P .. ':gholds')
for i = 1, #holds, 2 do
  if tonumber(holds[i + 1]) <= NOW then redis.call('HDEL', P .. ':gholds', holds[i]) end
end
flush()
local scan = redis.call('HSCAN', P .. ':gcounts', redis.call('GET', P .. ':gcounts:cursor') or '0', 'COUNT', 1000)
for i = 1, #scan[2], 2 do
  if scan[2][i + 1] == '0' then redis.call('HDEL', P .. ':gcounts', scan[2][i]) end
end
if scan[1] == '0' then redis.call('DEL', P .. ':gcounts:cursor') else redis.call('SET', P .. ':gcounts:cursor', scan[1]) end
return n
`;
