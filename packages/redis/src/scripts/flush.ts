// Lua that issues what a call gathered, at its end (and the due deliveries a claim takes from, before). Defined
// after COMMON_LUA (common.ts) and GROUP_STATE_LUA (group-state.ts), whose state and helpers it uses.

/** Lua: flushDue() and flush(), which every function that writes calls last. */
export const FLUSH_LUA = `
local function flushRecords(hash)
  local order = dirtyOrder and dirtyOrder[hash]
  if not order then return end
  local sets, dels, c = {}, {}, cache[hash]
  for _, field in ipairs(order) do
    local t = c[field]
    if t then sets[#sets + 1] = field; sets[#sets + 1] = cmsgpack.pack(t) else dels[#dels + 1] = field end
  end
  if #dels > 0 then chunked('HDEL', hash, dels) end
  if #sets > 0 then chunked('HSET', hash, sets) end
end

local function flushTails()
  if tailsChanged then
    for route, runAt in pairs(tailsChanged) do redis.call('HSET', P .. ':tails', route, fmt(runAt)) end
    tailsChanged = nil
  end
end
-- Issues the gathered due deliveries now (the claim takes from them in the same call).
local function flushDue()
  if zaddOrder then for _, key in ipairs(zaddOrder) do chunked('ZADD', key, pendingZadd[key]) end end
  if pushOrder then for _, key in ipairs(pushOrder) do chunked('RPUSH', key, pendingPush[key]) end end
  pendingZadd, zaddOrder, pendingPush, pushOrder = nil, nil, nil, nil
  flushTails()
  flushPlaces()
end

local function flush()
  flushRecords(JOBS)
  flushRecords(DELIVERIES)
  if zremOrder then for _, key in ipairs(zremOrder) do chunked('ZREM', key, pendingZrem[key]) end end
  flushDue()
  if seqChanged then redis.call('SET', P .. ':seq', seqNow) end
  flushGroupCounts()
  if countOrder then
    for _, field in ipairs(countOrder) do
      if pendingCounts[field] ~= 0 then redis.call('HINCRBY', P .. ':counts', field, pendingCounts[field]) end
    end
  end
  if pendingDel then chunked('DEL', nil, pendingDel) end
  if tallyOrder then
    local tp = P .. ':tp:' .. fmt(NOW - NOW % 60000)
    for _, field in ipairs(tallyOrder) do redis.call('HINCRBY', tp, field, pendingTally[field]) end
    redis.call('PEXPIRE', tp, 90000000)
  end
  if eventTotal > 0 then
    -- One message per event type and script call: lines of seq|jobId|deliveryId|route|worker|at.
    local last = redis.call('INCRBY', P .. ':evseq', eventTotal)
    local base = last - eventTotal
    for _, kind in ipairs(eventOrder) do
      local lines, seqs = pendingEvents[kind], eventSeqs[kind]
      for i = 1, #lines do lines[i] = (base + seqs[i]) .. '|' .. lines[i] end
      redis.call('PUBLISH', P .. ':ev:' .. kind, table.concat(lines, '\\n'))
    end
  end
end
`;
