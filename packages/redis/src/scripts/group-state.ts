// Lua for groups that several functions share: each group's counts, its place in its route's turns, and
// their writes at the end of a call. Defined after COMMON_LUA (common.ts), whose state and helpers it uses.

/** Lua: groupCount(), groupRunning(), groupPlace(), changePlace(), enterTurn(), flushPlaces(), flushGroupCounts(). */
export const GROUP_STATE_LUA = `
-- A group's queued and running deliveries, one number per group in 'gcounts': running · 2^26 + queued
-- (a claim moves one from queued to running with one HINCRBY), changed with each delivery of the group
-- that enters or leaves those states; other states are not kept.
local RUNNING_UNIT = 67108864
local GROUP_STEP = { queued = 1, running = RUNNING_UNIT }
local function groupCount(group, state, delta)
  local step = GROUP_STEP[state]
  if not group or not step then return end
  if not pendingGroups then pendingGroups, groupOrder = {}, {} end
  if not pendingGroups[group] then pendingGroups[group] = 0; groupOrder[#groupOrder + 1] = group end
  pendingGroups[group] = pendingGroups[group] + delta * step
end
-- A group's running deliveries now, from its stored number ('stored': read here when nil) and this call's changes.
local function groupRunning(group, stored)
  if stored == nil then stored = tonumber(redis.call('HGET', P .. ':gcounts', group) or '0') end
  return math.floor((stored + (pendingGroups and pendingGroups[group] or 0)) / RUNNING_UNIT)
end
-- A group's place on a route ('gin:<route>'), read once per call: nil while it has no turn, else
-- { tail = the run time of the last delivery on its list, set = whether its set may hold deliveries }
-- from its word 'L<tail>' or 'Z<tail>'.
local function placeOf(word)
  return { tail = tonumber(string.sub(word, 2)) or 0, set = string.byte(word, 1) ~= 76 }
end
local function groupPlace(route, group)
  local key = route .. '|' .. group
  places = places or {}
  local p = places[key]
  if p == nil then
    local word = redis.call('HGET', P .. ':gin:' .. route, group)
    p = word and placeOf(word) or false
    places[key] = p
  end
  return p or nil
end
-- Changes a group's place (its turn given at the back of the rotation when it had none), written by flushDue().
local function changePlace(route, group, tail, set)
  local p = groupPlace(route, group)
  if not p then
    p = { tail = 0, set = false, new = true }
    places[route .. '|' .. group] = p
  end
  if tail then p.tail = tail end
  if set ~= nil then p.set = set end
  if not p.dirty then
    p.dirty = true
    placeOrder = placeOrder or {}
    placeOrder[#placeOrder + 1] = { route, group, p }
  end
end
-- Gives the jobs without a group ('') their turn, at the back of the route's rotation ('gturns:<route>',
-- a list; 'gin:<route>' says who is in it), unless they have one.
local function enterTurn(route, group)
  local key = route .. '|' .. group
  turned = turned or {}
  if turned[key] then return end
  turned[key] = true
  if redis.call('HSETNX', P .. ':gin:' .. route, group, 1) == 1 then redis.call('RPUSH', P .. ':gturns:' .. route, group) end
end
-- The groups' changed places, one HSET per route, their sets' flags, and the new turns in the order the
-- groups came; a group that enters the rotation is named in the listing's index of the route's groups
-- ('gkeys:<route>').
local function flushPlaces()
  if not placeOrder then return end
  local sets, flags, turns, names, routes = {}, {}, {}, {}, {}
  for _, change in ipairs(placeOrder) do
    local route, group, p = change[1], change[2], change[3]
    if not sets[route] then sets[route] = {}; flags[route] = {}; turns[route] = {}; names[route] = {}; routes[#routes + 1] = route end
    local s = sets[route]
    s[#s + 1] = group
    s[#s + 1] = (p.set and 'Z' or 'L') .. fmt(p.tail)
    if p.set then local f = flags[route]; f[#f + 1] = group; f[#f + 1] = '1' end
    if p.new then local t = turns[route]; t[#t + 1] = group end
    if p.new then local n = names[route]; n[#n + 1] = 0; n[#n + 1] = group end
    p.dirty, p.new = nil, nil
  end
  for _, route in ipairs(routes) do
    chunked('HSET', P .. ':gin:' .. route, sets[route])
    if #flags[route] > 0 then chunked('HSET', P .. ':gz:' .. route, flags[route]) end
    if #turns[route] > 0 then chunked('RPUSH', P .. ':gturns:' .. route, turns[route]) end
    if #names[route] > 0 then chunked('ZADD', P .. ':gkeys:' .. route, names[route]) end
  end
  placeOrder = nil
end
-- The group counts this call changed. Many groups: one read and one write for all, not an HINCRBY each: a
-- call from Lua costs more than its command (claims of 37 grouped jobs and their completions: about 1 µs a
-- job less of Redis time). One or two: an HINCRBY each, as few calls. A count back at 0 stays (a group's
-- running count comes and goes with each job); recover-expired deletes them.
local function flushGroupCounts()
  if not groupOrder then return end
  local gcounts, changed = P .. ':gcounts', {}
  for _, group in ipairs(groupOrder) do
    if pendingGroups[group] ~= 0 then changed[#changed + 1] = group end
  end
  if #changed <= 2 then
    for _, group in ipairs(changed) do redis.call('HINCRBY', gcounts, group, string.format('%d', pendingGroups[group])) end
  else
    for from = 1, #changed, 1000 do
      local upto = math.min(from + 999, #changed)
      local stored = redis.call('HMGET', gcounts, unpack(changed, from, upto))
      local sets = {}
      for i = from, upto do
        sets[#sets + 1] = changed[i]
        sets[#sets + 1] = string.format('%d', tonumber(stored[i - from + 1] or '0') + pendingGroups[changed[i]])
      end
      redis.call('HSET', gcounts, unpack(sets))
    end
  end
end
`;
