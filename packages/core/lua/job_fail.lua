--[[
  job_fail: a claimed job hit a fault of the system (not a failed check): retry it after an
  exponential backoff, or, after maxAttempts, keep it in the failed set with its error
  (includes/retry_or_fail.lua, shared with jobs_sweep).

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

  Returns 'retry' | 'failed' | 'stale' (the lease is not ours; nothing written)
]]
--- @include "includes/retry_or_fail"

if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 'stale'
end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '1')
redis.call('ZREM', KEYS[2], ARGV[1])
local policy = { maxAttempts = tonumber(ARGV[5]), retryBaseMs = tonumber(ARGV[6]), retentionSec = ARGV[7], failedKey = KEYS[4], delayedKey = KEYS[3] }
return retry_or_fail(policy, KEYS[1], ARGV[1], attempts, tonumber(ARGV[3]), ARGV[4], ARGV[4])
