--[[
  notify_fail: record a failed delivery attempt by the lease holder and end the lease. A
  permanent failure (the channel rejected the message: ARGV[9] > 0) also removes the message(s)
  from the outbox head, counted in `dropped`: they are never retried, but the failure counts
  toward the streak like any other.
  The client is retried after an exponential backoff, base * 2^(failures-1) capped at max (or
  later when the receiver asked for it with Retry-After, still capped at max). After
  maxFailures consecutive failures its notifications are disabled: enabled = 0 with
  disabledReason and disabledAt, and it leaves outboxDue. Its outbox is kept for notify_enable.

  KEYS[1]  channel hash
  KEYS[2]  outboxDue sorted set
  KEYS[3]  outbox list
  ARGV[1]  unit
  ARGV[2]  lease token
  ARGV[3]  now, ms
  ARGV[4]  error, short text (no secrets)
  ARGV[5]  backoff base, ms
  ARGV[6]  backoff max, ms
  ARGV[7]  failures before disabling
  ARGV[8]  least delay, ms (Retry-After; 0 for none)
  ARGV[9]  entries to drop from the head (0 for a temporary failure)
  ARGV[10] the head as read (entries are dropped only while it is still the head)

  Returns { -1 }                   the lease was lost (nothing written)
          { 1, failures, delayMs } retry after delayMs
          { 2, failures }          disabled
]]
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then
  return { -1 }
end
local now = tonumber(ARGV[3])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'lastError', ARGV[4], 'lastErrorAt', ARGV[3])
redis.call('HDEL', KEYS[1], 'lease')
local drop = tonumber(ARGV[9] or '0') or 0
if drop > 0 and redis.call('LINDEX', KEYS[3], 0) == ARGV[10] then
  redis.call('LTRIM', KEYS[3], drop, -1)
  redis.call('HINCRBY', KEYS[1], 'dropped', drop)
end
if failures >= tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[1], 'enabled', '0', 'disabledAt', ARGV[3],
    'disabledReason', failures .. ' consecutive failed deliveries; last error: ' .. ARGV[4])
  redis.call('HDEL', KEYS[1], 'nextAttemptAt')
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 2, failures }
end
if redis.call('LLEN', KEYS[3]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[1], 'nextAttemptAt')
  return { 1, failures, 0 }
end
local max = tonumber(ARGV[6])
local delay = math.min(max, tonumber(ARGV[5]) * 2 ^ math.min(failures - 1, 40))
delay = math.floor(math.min(max, math.max(delay, tonumber(ARGV[8]))))
local due = string.format('%.0f', now + delay)
redis.call('ZADD', KEYS[2], due, ARGV[1])
redis.call('HSET', KEYS[1], 'nextAttemptAt', due)
return { 1, failures, delay }
