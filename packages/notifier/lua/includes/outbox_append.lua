--[[
  include outbox_append: queue one delivery for a client.

  outbox_append(outboxKey, webhookKey, dueKey, payload, cap, now, clientId)
    outboxKey   the client's outbox list: the payload is appended
    webhookKey  the client's webhook hash: field `dropped` counts deliveries lost to the cap
    dueKey      outboxDue sorted set: the client becomes due at `now` unless it is already in
                it (NX: a client that is leased or waiting out a backoff keeps its time)
    cap         most deliveries the outbox holds; the oldest beyond it are dropped
]]
local function outbox_append(outboxKey, webhookKey, dueKey, payload, cap, now, clientId)
  local n = redis.call('RPUSH', outboxKey, payload)
  if n > cap then
    redis.call('LTRIM', outboxKey, n - cap, -1)
    redis.call('HINCRBY', webhookKey, 'dropped', n - cap)
  end
  redis.call('ZADD', dueKey, 'NX', now, clientId)
end
