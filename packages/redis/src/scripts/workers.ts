
/**
 * register-worker — registers (or re-registers) a worker, alive for a time-to-live.
 * Reads:   ARGV[7] worker id, ARGV[8] ttl (ms), ARGV[9] routes (comma-separated), ARGV[10] hostname,
 *          ARGV[11] pid, ARGV[12] started (epoch ms).
 * Writes:  'workers' (score = expiry), worker:<id> (state running); drops registrations expired over a day ago.
 * Returns: the expiry.
 */
export const REGISTER_WORKER_LUA = `
local id, expires = ARGV[7], fmt(NOW + tonumber(ARGV[8]))
redis.call('ZADD', P .. ':workers', expires, id)
redis.call('HSET', P .. ':worker:' .. id, 'routes', ARGV[9], 'hostname', ARGV[10], 'pid', ARGV[11], 'started', ARGV[12],
  'lastSeen', fmt(NOW), 'expires', expires, 'state', 'running')
redis.call('PEXPIRE', P .. ':worker:' .. id, 86400000)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', '-inf', '(' .. fmt(NOW - 86400000), 'LIMIT', 0, 100)) do
  redis.call('ZREM', P .. ':workers', old)
  redis.call('DEL', P .. ':worker:' .. old)
end
return expires
`;

/**
 * heartbeat — renews a worker's registration with its status, if it has not expired.
 * Reads:   ARGV[7] worker id, ARGV[8] ttl (ms), ARGV[9] state, ARGV[10] running job ids (JSON),
 *          ARGV[11] the id of the command it obeyed ('' for none); 'workers' (score = expiry), worker:<id>.
 * Writes:  'workers', worker:<id> (lastSeen, expires, state, running; the command's obeyedAt when it is the one named).
 * Returns: the worker's hash as a flat field/value array, or 0 if the registration had expired or never existed.
 */
export const HEARTBEAT_LUA = `
local id, expires = ARGV[7], fmt(NOW + tonumber(ARGV[8]))
local key = P .. ':worker:' .. id
local current = redis.call('ZSCORE', P .. ':workers', id)
if not current or tonumber(current) < NOW then return 0 end
redis.call('ZADD', P .. ':workers', expires, id)
redis.call('HSET', key, 'lastSeen', fmt(NOW), 'expires', expires, 'state', ARGV[9], 'running', ARGV[10])
if ARGV[11] ~= '' then
  local raw = redis.call('HGET', key, 'command')
  if raw then
    local command = cjson.decode(raw)
    if command.id == ARGV[11] and command.obeyedAt == cjson.null then
      -- Patched as text: cjson would print the epoch-ms numbers in exponent form.
      redis.call('HSET', key, 'command', (string.gsub(raw, '"obeyedAt":null', '"obeyedAt":' .. fmt(NOW), 1)))
    end
  end
end
redis.call('PEXPIRE', key, 86400000)
return redis.call('HGETALL', key)
`;

/**
 * send-command — leaves a command on a live worker's registration.
 * Reads:   ARGV[7] worker id, ARGV[8] command (JSON, with "obeyedAt":null); 'workers'.
 * Writes:  worker:<id> command, event 'worker-command' (its data: the command id, ARGV[9]).
 * Returns: 1, or 0 if no live worker has the id.
 */
export const SEND_COMMAND_LUA = `
local id = ARGV[7]
local current = redis.call('ZSCORE', P .. ':workers', id)
if not current or tonumber(current) < NOW then return 0 end
redis.call('HSET', P .. ':worker:' .. id, 'command', ARGV[8])
ev('worker-command', nil, nil, nil, id, cjson.encode(ARGV[9]))
flush()
return 1
`;

/**
 * live-workers — the workers whose registration has not expired.
 * Reads:   'workers', worker:<id>.
 * Writes:  nothing.
 * Returns: a flat array: worker id, then its hash as a flat field/value array; per worker.
 */
export const LIVE_WORKERS_LUA = `
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', NOW, '+inf')) do
  table.insert(out, id)
  table.insert(out, redis.call('HGETALL', P .. ':worker:' .. id))
end
return out
`;
