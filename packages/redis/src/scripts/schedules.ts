
/**
 * save-schedule — saves a schedule's definition; an unchanged one keeps its runtime state. The
 * decision is core's scheduleSaveOutcome, made here so that the read and the write are one step.
 * Reads:   ARGV[7] id, ARGV[8] definition as core's scheduleFingerprint makes it, ARGV[9] state JSON ('' for none),
 *          ARGV[10] first tick (epoch ms); sched:<id>.
 * Writes:  sched:<id> (def, state, next, version, created, updated), 'schedules' (set of ids).
 * Returns: 'created' | 'updated' | 'unchanged'.
 */
export const SAVE_SCHEDULE_LUA = `
local id, def, state, next = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local key = P .. ':sched:' .. id
local current = redis.call('HGET', key, 'def')
if current == def then return 'unchanged' end
redis.call('HSET', key, 'def', def, 'state', state, 'next', next, 'waiting', '', 'updated', fmt(NOW))
redis.call('HINCRBY', key, 'version', 1)
redis.call('SADD', P .. ':schedules', id)
if current then return 'updated' end
redis.call('HSET', key, 'created', fmt(NOW), 'paused', 0, 'fired', 0)
return 'created'
`;

/**
 * fire-schedule — fires one tick if the schedule is still at the given version and not paused.
 * Reads:   ARGV[7] id, ARGV[8] version, ARGV[9] next tick ('' to wait for the job), ARGV[10] job id
 *          to wait for (''), ARGV[11] fired at, ARGV[12] the fired job's id, then the job as enqueue takes
 *          a batch (enqueue.ts) from ARGV[13].
 * Writes:  sched:<id> (next, waiting, fired, lastFired, lastJob, version), and what enqueue writes.
 * Returns: 1 if this call fired the tick, else 0.
 */
export const FIRE_SCHEDULE_LUA = `
local key = P .. ':sched:' .. ARGV[7]
local f = redis.call('HMGET', key, 'version', 'paused')
if not f[1] or f[1] ~= ARGV[8] or f[2] == '1' then return 0 end
redis.call('HSET', key, 'next', ARGV[9], 'waiting', ARGV[10], 'lastFired', ARGV[11], 'lastJob', ARGV[12], 'updated', ARGV[11])
redis.call('HINCRBY', key, 'fired', 1)
redis.call('HINCRBY', key, 'version', 1)
enqueueJobs(13)
flush()
return 1
`;

/**
 * advance-schedule — sets the next tick of a schedule that waited for its job, if still at the version.
 * Reads:   ARGV[7] id, ARGV[8] version, ARGV[9] next tick, ARGV[10] state JSON (''); sched:<id>.
 * Writes:  sched:<id> (next, state, waiting, version).
 * Returns: 1 if set, else 0.
 */
export const ADVANCE_SCHEDULE_LUA = `
local key = P .. ':sched:' .. ARGV[7]
if redis.call('HGET', key, 'version') ~= ARGV[8] then return 0 end
redis.call('HSET', key, 'next', ARGV[9], 'state', ARGV[10], 'waiting', '', 'updated', fmt(NOW))
redis.call('HINCRBY', key, 'version', 1)
return 1
`;

/**
 * pause-schedule — pauses or resumes a schedule.
 * Reads:   ARGV[7] id, ARGV[8] '1' to pause, '0' to resume; sched:<id>.
 * Writes:  sched:<id> (paused, version).
 * Returns: 1 if the schedule exists, else 0.
 */
export const PAUSE_SCHEDULE_LUA = `
local key = P .. ':sched:' .. ARGV[7]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'paused', ARGV[8], 'updated', fmt(NOW))
redis.call('HINCRBY', key, 'version', 1)
return 1
`;
