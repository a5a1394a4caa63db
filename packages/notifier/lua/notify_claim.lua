--[[
  notify_claim: lease due clients for delivery, so that one notifier at a time delivers a
  client's outbox (per-client order). A lease is the client's outboxDue score pushed to the
  lease deadline plus a token in its webhook hash; ack/fail/release check the token. A lease
  whose holder died expires at its deadline, when the client is due again.
  Due clients without an enabled webhook are dropped from outboxDue (their outbox stays).

  KEYS[1]  outboxDue sorted set
  ARGV[1]  now, ms
  ARGV[2]  lease, ms
  ARGV[3]  most clients to lease
  ARGV[4]  lease token
  ARGV[5]  webhook hash prefix: prefix .. clientId is the client's webhook hash

  Returns the leased client ids (possibly empty)
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leased = {}
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, client in ipairs(due) do
  local hook = ARGV[5] .. client
  if redis.call('HGET', hook, 'enabled') == '1' then
    redis.call('ZADD', KEYS[1], deadline, client)
    redis.call('HSET', hook, 'lease', ARGV[4])
    leased[#leased + 1] = client
  else
    redis.call('ZREM', KEYS[1], client)
  end
end
return leased
