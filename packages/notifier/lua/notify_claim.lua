--[[
  notify_claim: lease due units (one channel of a client) for delivery, so that one notifier
  at a time delivers a unit's outbox (per-channel order). A lease is the unit's outboxDue score
  pushed to the lease deadline plus a token in its channel hash; ack/fail/release check the
  token. A lease whose holder died expires at its deadline, when the unit is due again.
  Due units without an enabled channel are dropped from outboxDue (their outbox stays).

  KEYS[1]  outboxDue sorted set
  ARGV[1]  now, ms
  ARGV[2]  lease, ms
  ARGV[3]  most clients to lease
  ARGV[4]  lease token
  ARGV[5]  webhook hash prefix: a unit without ':' (a client's webhook channel) has the hash
           prefix .. unit
  ARGV[6]  channel hash prefix: any other unit "<client>:<channel>" has the hash prefix .. unit

  Returns the leased units (possibly empty)
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leased = {}
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, client in ipairs(due) do
  local hook = (string.find(client, ':', 1, true) and ARGV[6] or ARGV[5]) .. client
  if redis.call('HGET', hook, 'enabled') == '1' then
    redis.call('ZADD', KEYS[1], deadline, client)
    redis.call('HSET', hook, 'lease', ARGV[4])
    leased[#leased + 1] = client
  else
    redis.call('ZREM', KEYS[1], client)
  end
end
return leased
