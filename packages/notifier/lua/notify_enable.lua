--[[
  notify_enable: (re-)enable a channel's notifications, e.g. after the automatic disable.
  Resets the failure streak, clears disabledReason/disabledAt and makes pending deliveries due
  now (an enable also means "retry now" for a unit waiting out a backoff). While a delivery
  lease is held, its holder reschedules the client itself.

  KEYS[1]  channel hash
  KEYS[2]  outbox list
  KEYS[3]  outboxDue sorted set
  ARGV[1]  now, ms
  ARGV[2]  unit
  ARGV[3]  '1' to drop the pending deliveries first, '0' to keep them

  Returns -1 no such channel (nothing written)
          N  deliveries pending after the enable
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], 'enabled', '1', 'failures', 0)
redis.call('HDEL', KEYS[1], 'disabledReason', 'disabledAt', 'nextAttemptAt')
if ARGV[3] == '1' then
  local dropped = redis.call('LLEN', KEYS[2])
  if dropped > 0 then
    redis.call('DEL', KEYS[2])
    redis.call('HINCRBY', KEYS[1], 'dropped', dropped)
  end
end
local n = redis.call('LLEN', KEYS[2])
if redis.call('HEXISTS', KEYS[1], 'lease') == 0 then
  if n > 0 then
    redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
  else
    redis.call('ZREM', KEYS[3], ARGV[2])
  end
end
return n
