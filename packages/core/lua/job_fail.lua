--[[
  job_fail: a claimed job hit a fault of the system (not a failed check): retry it after an
  exponential backoff, or, after maxAttempts, keep it in the failed set with its error.

  KEYS[1]   job hash
  KEYS[2]   leases (sorted set)
  KEYS[3]   delayed jobs (sorted set)
  KEYS[4]   failed jobs (sorted set)

  ARGV[1]   job id
  ARGV[2]   lease token
  ARGV[3]   now, ms
  ARGV[4]   error message
  ARGV[5]   max attempts
  ARGV[6]   retry backoff base, ms
  ARGV[7]   retention of finished jobs, seconds

  Returns 'retry' | 'failed' | 'stale' (the lease is not ours)
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 'stale'
end
local now = tonumber(ARGV[3])
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '1')
redis.call('HDEL', KEYS[1], 'token', 'leaseUntil')
redis.call('ZREM', KEYS[2], ARGV[1])
if attempts >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4], 'finishedAt', now)
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  return 'failed'
end
local runAt = now + math.min(tonumber(ARGV[6]) * 2 ^ (attempts - 1), 300000)
redis.call('HSET', KEYS[1], 'status', 'queued', 'error', ARGV[4], 'notBefore', runAt)
redis.call('ZADD', KEYS[3], runAt, ARGV[1])
return 'retry'
