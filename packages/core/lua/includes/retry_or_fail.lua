--[[
  include retry_or_fail: a claimed job that did not finish (a fault of the system, or a lease
  that expired) leaves its lease and is either retried after an exponential backoff or, after
  maxAttempts, failed. The caller has checked that the job is running and removed it from the
  leases set.

  retry_or_fail(policy, jobKey, id, attempts, now, failError, retryError) -> 'failed' | 'retry'
    policy      { maxAttempts, retryBaseMs, retentionSec, failedKey, delayedKey }
    attempts    attempts so far (the claim counts one)
    now         ms
    failError   the job's error when it fails
    retryError  the job's error while it waits for its retry

  Failed: status 'failed', finishedAt = now, in the failed set (score now); the job hash
  expires after the retention. Retry: status 'queued', notBefore = now + retryBaseMs *
  2^(attempts-1) (at most 5 minutes), in the delayed set at that time.
]]
local function retry_or_fail(policy, jobKey, id, attempts, now, failError, retryError)
  redis.call('HDEL', jobKey, 'token', 'leaseUntil')
  if attempts >= policy.maxAttempts then
    redis.call('HSET', jobKey, 'status', 'failed', 'error', failError, 'finishedAt', now)
    redis.call('ZADD', policy.failedKey, now, id)
    redis.call('EXPIRE', jobKey, policy.retentionSec)
    return 'failed'
  end
  local runAt = now + math.min(policy.retryBaseMs * 2 ^ (math.max(attempts, 1) - 1), 300000)
  redis.call('HSET', jobKey, 'status', 'queued', 'error', retryError, 'notBefore', runAt)
  redis.call('ZADD', policy.delayedKey, runAt, id)
  return 'retry'
end
