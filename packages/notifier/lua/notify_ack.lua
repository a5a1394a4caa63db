--[[
  notify_ack: record a successful delivery of the outbox head (or of the first `count` entries,
  a digest) by the lease holder. Removes them only when the head is still the delivered entry
  (a trimmed or dropped outbox may have moved on), resets the failure streak and extends the
  lease while more is pending.

  KEYS[1]  channel hash
  KEYS[2]  outbox list
  KEYS[3]  outboxDue sorted set
  ARGV[1]  unit
  ARGV[2]  lease token
  ARGV[3]  the delivered entry, exactly as read
  ARGV[4]  now, ms
  ARGV[5]  lease, ms
  ARGV[6]  entries delivered (1, or a digest's count)

  Returns -1 the lease was lost (nothing written)
          N  deliveries still pending (0: the client is no longer due and the lease is gone)
]]
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then
  return -1
end
local count = tonumber(ARGV[6] or '1') or 1
if redis.call('LINDEX', KEYS[2], 0) == ARGV[3] then
  redis.call('LTRIM', KEYS[2], count, -1)
end
redis.call('HSET', KEYS[1], 'failures', 0, 'lastDeliveryAt', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'delivered', count)
redis.call('HDEL', KEYS[1], 'nextAttemptAt')
local n = redis.call('LLEN', KEYS[2])
if n == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[1], 'lease')
else
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[1])
end
return n
