
/**
 * listen — says that a subscriber hears some event types of the queue for a while: the scripts build
 * and publish events only of the types someone hears (see `hears` in common.ts).
 * Reads:   ARGV[7] how long (ms), ARGV[8…] event types; 'listeners'.
 * Writes:  'listeners' '<type>' = now + ARGV[7], unless another subscriber's time ends later.
 * Returns: 1.
 */
export const LISTEN_LUA = `
local untilAt = NOW + tonumber(ARGV[7])
for i = 8, #ARGV do
  if tonumber(redis.call('HGET', P .. ':listeners', ARGV[i]) or '0') < untilAt then
    redis.call('HSET', P .. ':listeners', ARGV[i], fmt(untilAt))
  end
end
return 1
`;
