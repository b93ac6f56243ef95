// The listing's functions: jobs by id, and the jobs a state's index holds, a page at a time.

/**
 * Lua: rows(ids), each job's records as flat field/value lists as stored (short names, see common.ts): the job
 * with delivery 0, then deliveries 1 … N − 1.
 */
export const ROWS_FN = `
local function flat(t)
  local out = {}
  if t then for k, v in pairs(t) do out[#out + 1] = k; out[#out + 1] = v end end
  return out
end
local function rows(ids)
  local out = {}
  for _, jobId in ipairs(ids) do
    local j = jobRecord(jobId)
    local r = {}
    if j then
      r[1] = flat(j)
      for n = 1, (j.N or 1) - 1 do r[#r + 1] = flat(rget(DELIVERIES, jobId .. '.' .. n)) end
    end
    out[#out + 1] = r
  end
  return out
end
`;

/**
 * read-jobs — jobs with all their deliveries, as field lists.
 * Reads:   ARGV[7…] job ids; their records.
 * Writes:  nothing.
 * Returns: per job, a list of records as flat field/value lists: the job with delivery 0 first, then
 *          deliveries 1 … nd − 1 (an empty list where one is gone); an empty list for a job that is gone.
 */
export const READ_JOBS_LUA = `
local ids = {}
for i = 7, #ARGV do ids[#ids + 1] = ARGV[i] end
return rows(ids)
`;

/**
 * list-state — a page of the jobs one state's index holds. A state's index is one or more keys, read
 * in turn: running, 'active' (by lease end); queued, per route (sorted) 'prio:<route>' then
 * 'waiting:<route>' (run order), then per group in its rotation ('gkeys:<route>', byte order, at most a
 * page's limit of groups a page) 'gq:<route>|<group>' and 'gl:<route>|<group>', then the
 * 'ready:<route>:@<worker>' sets, then the delayed sets (whose due
 * deliveries are queued until a claim promotes them); scheduled, the 'delayed:<route>' sets (by run
 * time); succeeded, 'ended:succeeded'; failed and cancelled, 'ended:failed' (newest first).
 * Reads:   ARGV[7] state, ARGV[8] cursor ('' for the first page: JSON [key index, offset, key, last member,
 *          its score, where the page began in the key]),
 *          ARGV[9] limit; 'counts' (the routes), 'gkeys:<route>' (the groups), 'addressed', the index keys, the records.
 * Writes:  nothing.
 * Returns: { cursor (false when the state has no more; in a route's groups it adds the route, the group and, at a
 *          'more' source, 'more'), job ids, their rows as read-jobs returns them }.
 *          A page resumes after the member it ended at (see resumeAt).
 */
export const LIST_STATE_LUA = `
local state, limit = ARGV[7], tonumber(ARGV[9])
local routes = routesOf()
-- Sources: { 'l' (list) or 'z' (sorted set), key, what a member names ('job', 'did' or 'seq:did') }.
-- Byte order, as a sorted set orders members of equal score (Lua's '<' follows the server's locale).
local function bytesBefore(x, y)
  for i = 1, math.min(#x, #y) do
    local p, q = string.byte(x, i), string.byte(y, i)
    if p ~= q then return p < q end
  end
  return #x < #y
end
local cursor = ARGV[8] ~= '' and cjson.decode(ARGV[8]) or nil
-- A route's own sources, and its groups', name the route (and the group).
local sources = {}
local function add(kind, key, holds, route, group) sources[#sources + 1] = { kind, key, holds, route, group } end
-- A route's groups a window at a time, in byte order ('gkeys:<route>'): each group's set, then its list.
-- The window starts at the cursor's group when the page resumes in this route's groups; a window that
-- may not be all ends with a 'more' source, where a page stops and the next one goes on.
local function addGroups(r)
  local from = '-'
  if cursor and cursor[7] == r and cursor[8] then from = (cursor[9] == 'more' and '(' or '[') .. cursor[8] end
  local groups = redis.call('ZRANGEBYLEX', P .. ':gkeys:' .. r, from, '+', 'LIMIT', 0, limit)
  for _, g in ipairs(groups) do
    add('z', P .. ':gq:' .. r .. '|' .. g, 'seq:did', r, g)
    add('l', P .. ':gl:' .. r .. '|' .. g, 'did', r, g)
  end
  if #groups == limit then add('more', 'more:' .. r, nil, r, groups[#groups]) end
end
if state == 'running' then
  add('z', P .. ':active', 'did')
elseif state == 'queued' or state == 'scheduled' then
  if state == 'queued' then
    for _, r in ipairs(routes) do
      add('z', P .. ':prio:' .. r, 'seq:did', r); add('l', P .. ':waiting:' .. r, 'did', r)
      addGroups(r)
    end
    local targets = redis.call('SMEMBERS', P .. ':addressed')
    table.sort(targets)
    for _, pair in ipairs(targets) do
      local route, worker = string.match(pair, '^(.*)|([^|]*)$')
      add('z', readyKey(route, worker), 'seq:did')
    end
  end
  for _, r in ipairs(routes) do add('z', P .. ':delayed:' .. r, 'seq:did') end
elseif state == 'succeeded' then
  add('l', P .. ':ended:succeeded', 'job')
else
  add('l', P .. ':ended:failed', 'job')
end
-- Where a page resumes in a key: after the member it ended at; when that member has left the key, a sorted
-- set resumes by its score, a waiting list (taken from its head) at its head, an ended list where the page
-- began (what was listed before it may show again, nothing after it is skipped).
local function resumeAt(kind, key, holds, last, score, began)
  if kind == 'l' then
    local i = redis.call('LPOS', key, last)
    if i then return i + 1 end
    if holds == 'did' then return 0 end
    return began
  end
  local i = redis.call('ZRANK', key, last)
  if i then return i + 1 end
  local start = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, score, score)) do
    if bytesBefore(m, last) then start = start + 1 end
  end
  return start
end
local at, offset, last, score, began = 1, 0, '', '0', 0
if cursor then
  local c = cursor
  at, offset, last, score, began = tonumber(c[1]), tonumber(c[2]), c[4] or '', c[5] or '0', tonumber(c[6] or 0)
  -- Sources come and go with routes, workers and groups: find the key the page ended in. A page that
  -- ended at a 'more' source, or in a group that has left the rotation (nothing due left in it), goes on
  -- at the first group of the route's window, or after the route.
  if not sources[at] or sources[at][2] ~= c[3] then
    at = #sources + 1
    for i, src in ipairs(sources) do if src[2] == c[3] then at = i end end
  end
  if (at > #sources and c[7]) or c[9] == 'more' then
    local resume = nil
    for i, src in ipairs(sources) do
      if src[4] == c[7] then
        resume = i + 1
        if src[5] and src[1] ~= 'more' then resume = i; break end
      end
    end
    if resume then at, offset, last = resume, 0, '' end
  end
  if at > #sources then at, offset, last = 1, 0, '' end
end
local ids, seen = {}, {}
while at <= #sources and #ids < limit do
  local kind, key, holds = sources[at][1], sources[at][2], sources[at][3]
  -- The route has more groups than this page read: the page ends here, and the next goes on after them.
  if kind == 'more' then break end
  local start = offset
  if last ~= '' then start = resumeAt(kind, key, holds, last, score, began) end
  began = start
  local need = limit - #ids
  local items = {}
  if kind == 'l' then
    items = redis.call('LRANGE', key, start, start + need - 1)
  else
    local withScores = redis.call('ZRANGE', key, start, start + need - 1, 'WITHSCORES')
    for i = 1, #withScores, 2 do items[#items + 1] = withScores[i]; score = withScores[i + 1] end
  end
  for _, m in ipairs(items) do
    local id = m
    if holds ~= 'job' then
      if holds == 'seq:did' then id = string.sub(m, 18) end
      id = string.match(id, '^(.+)%.%d+$')
    end
    if id and not seen[id] then seen[id] = true; ids[#ids + 1] = id end
    last = m
  end
  if #items < need then
    at, offset, last, score, began = at + 1, 0, '', '0', 0
  else
    offset = start + #items
  end
end
local nextCursor = false
if at <= #sources then
  local src = sources[at]
  if src[5] then
    nextCursor = cjson.encode({ at, offset, src[2], last, score, began, src[4], src[5], src[1] == 'more' and 'more' or nil })
  else
    nextCursor = cjson.encode({ at, offset, src[2], last, score, began })
  end
end
return { nextCursor, ids, rows(ids) }
`;
