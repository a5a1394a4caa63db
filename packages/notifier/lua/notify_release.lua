--[[
  notify_release: end a delivery lease without a result (budget used up, notifier stopping,
  nothing left to deliver). The client stays due at the given time while it has pending
  deliveries and an enabled channel; otherwise it leaves outboxDue.

  KEYS[1]  channel hash
  KEYS[2]  outbox list
  KEYS[3]  outboxDue sorted set
  ARGV[1]  unit
  ARGV[2]  lease token
  ARGV[3]  when the client is due again, ms

  Returns 1 released
          0 the lease was lost (nothing written)
]]
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], 'lease')
if redis.call('HGET', KEYS[1], 'enabled') ~= '1' or redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
