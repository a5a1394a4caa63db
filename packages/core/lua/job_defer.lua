--[[
  job_defer: give a claimed job back to run later (its host is busy, or asked us to wait),
  without counting it as an attempt.

  KEYS[1]   job hash
  KEYS[2]   leases (sorted set)
  KEYS[3]   delayed jobs (sorted set, score = time to queue again, ms)

  ARGV[1]   job id
  ARGV[2]   lease token
  ARGV[3]   run-at, ms

  Returns 1 deferred, 0 the lease is not ours
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'notBefore', ARGV[3])
redis.call('HDEL', KEYS[1], 'token', 'leaseUntil')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
