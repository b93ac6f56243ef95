import { COMMON_LUA } from './common.js';

/**
 * register-worker — registers (or re-registers) a worker, alive for a time-to-live.
 * Reads:   ARGV[7] worker id, ARGV[8] ttl (ms), ARGV[9] routes (comma-separated), ARGV[10] hostname,
 *          ARGV[11] pid, ARGV[12] started (epoch ms).
 * Writes:  'workers' (score = expiry), worker:<id>; drops registrations expired over a day ago.
 * Returns: the expiry.
 */
export const REGISTER_WORKER_LUA = `${COMMON_LUA}
local id, expires = ARGV[7], fmt(NOW + tonumber(ARGV[8]))
redis.call('ZADD', P .. ':workers', expires, id)
redis.call('HSET', P .. ':worker:' .. id, 'routes', ARGV[9], 'hostname', ARGV[10], 'pid', ARGV[11], 'started', ARGV[12],
  'lastSeen', fmt(NOW), 'expires', expires)
redis.call('PEXPIRE', P .. ':worker:' .. id, 86400000)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', '-inf', '(' .. fmt(NOW - 86400000), 'LIMIT', 0, 100)) do
  redis.call('ZREM', P .. ':workers', old)
  redis.call('DEL', P .. ':worker:' .. old)
end
return expires
`;

/**
 * heartbeat — renews a worker's registration if it has not expired.
 * Reads:   ARGV[7] worker id, ARGV[8] ttl (ms); 'workers' (score = expiry).
 * Writes:  'workers', worker:<id> (lastSeen, expires).
 * Returns: 1 if renewed, 0 if the registration had expired or never existed.
 */
export const HEARTBEAT_LUA = `${COMMON_LUA}
local id, expires = ARGV[7], fmt(NOW + tonumber(ARGV[8]))
local current = redis.call('ZSCORE', P .. ':workers', id)
if not current or tonumber(current) < NOW then return 0 end
redis.call('ZADD', P .. ':workers', expires, id)
redis.call('HSET', P .. ':worker:' .. id, 'lastSeen', fmt(NOW), 'expires', expires)
redis.call('PEXPIRE', P .. ':worker:' .. id, 86400000)
return 1
`;

/**
 * live-workers — the workers whose registration has not expired.
 * Reads:   'workers', worker:<id>.
 * Writes:  nothing.
 * Returns: a flat array: worker id, then its hash as a flat field/value array; per worker.
 */
export const LIVE_WORKERS_LUA = `${COMMON_LUA}
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', NOW, '+inf')) do
  table.insert(out, id)
  table.insert(out, redis.call('HGETALL', P .. ':worker:' .. id))
end
return out
`;
