/**
 * list-groups — a page of the queue's groups in key order: those with queued or running deliveries
 * ('gcounts': running · 2^26 + queued), limits of their own ('glimits') or a hold ('gholds').
 * Reads:   ARGV[7] the cursor (the last group of the previous page, '' for the first), ARGV[8] the page size;
 *          'gcounts', 'glimits', 'gholds'.
 * Writes:  nothing.
 * Returns: per group { group, queued, running, held until ('' when not held), its own limits ('' for none) },
 *          in byte order of the keys.
 */
export const LIST_GROUPS_LUA = `
local after, size = ARGV[7], tonumber(ARGV[8])
local names, seen = {}, {}
local function add(g)
  if g > after and not seen[g] then seen[g] = true; names[#names + 1] = g end
end
local counts = redis.call('HGETALL', P .. ':gcounts')
local number = {}
for i = 1, #counts, 2 do
  if counts[i + 1] ~= '0' then number[counts[i]] = tonumber(counts[i + 1]); add(counts[i]) end
end
for _, g in ipairs(redis.call('HKEYS', P .. ':glimits')) do if g ~= '*' then add(g) end end
local holds = redis.call('HGETALL', P .. ':gholds')
local heldTo = {}
for i = 1, #holds, 2 do
  if tonumber(holds[i + 1]) > NOW then heldTo[holds[i]] = holds[i + 1]; add(holds[i]) end
end
table.sort(names)
local out = {}
for i = 1, math.min(size, #names) do
  local g = names[i]
  local n = number[g] or 0
  out[i] = { g, fmt(n % 67108864), fmt(math.floor(n / 67108864)), heldTo[g] or '', redis.call('HGET', P .. ':glimits', g) or '' }
end
return out
`;
