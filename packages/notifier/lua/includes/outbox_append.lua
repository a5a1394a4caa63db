--[[
  include outbox_append: queue one delivery for a unit (one channel of a client).

  outbox_append(outboxKey, channelKey, dueKey, payload, cap, dueAt, unit)
    outboxKey   the unit's outbox list: the payload is appended
    channelKey  the unit's channel hash: field `dropped` counts deliveries lost to the cap
    dueKey      outboxDue sorted set: the unit becomes due at `dueAt` unless it is already in
                it (NX: a unit that is leased, waiting out a backoff or collecting a digest
                keeps its time)
    cap         most deliveries the outbox holds; the oldest beyond it are dropped
]]
local function outbox_append(outboxKey, channelKey, dueKey, payload, cap, dueAt, unit)
  local n = redis.call('RPUSH', outboxKey, payload)
  if n > cap then
    redis.call('LTRIM', outboxKey, n - cap, -1)
    redis.call('HINCRBY', channelKey, 'dropped', n - cap)
  end
  redis.call('ZADD', dueKey, 'NX', dueAt, unit)
end
