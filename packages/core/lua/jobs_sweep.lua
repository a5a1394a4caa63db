--[[
  jobs_sweep: find work to dispatch again.
  1. Leases past their deadline (the executor died or stalled): the job is retried after an
     exponential backoff (retryBase * 2^(attempts-1), at most 5 minutes) through the delayed
     set, or failed once it has had maxAttempts (includes/retry_or_fail.lua, shared with
     job_fail). Failed entries older than the retention go.
  2. Jobs queued longer than requeueAfter without being claimed (their id was lost in a socket
     or a restarted dispatcher): their queued time is bumped and they are returned.
  3. Deferred jobs whose time has come: queued again and returned (with the stale ones).

  KEYS[1]   leases (sorted set)
  KEYS[2]   queued jobs (sorted set)
  KEYS[3]   failed jobs (sorted set)
  KEYS[4]   delayed jobs (sorted set, score = time to queue again)

  ARGV[1]   now, ms
  ARGV[2]   most jobs to handle per part
  ARGV[3]   max attempts
  ARGV[4]   job hash key prefix (jobPrefix in keys.ts)
  ARGV[5]   retention of finished jobs, seconds
  ARGV[6]   requeue-after, ms
  ARGV[7]   retry backoff base, ms

  Returns { requeued, failed, stale }: requeued (ids put on the delayed set for a retry) and
  failed are lists of ids; stale is a flat list of id, priority pairs to dispatch now.
]]
--- @include "includes/retry_or_fail"

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local policy = { maxAttempts = tonumber(ARGV[3]), retryBaseMs = tonumber(ARGV[7]), retentionSec = ARGV[5], failedKey = KEYS[3], delayedKey = KEYS[4] }
local requeued, failed, stale = {}, {}, {}

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
  local job = ARGV[4] .. id
  redis.call('ZREM', KEYS[1], id)
  local j = redis.call('HMGET', job, 'status', 'leaseUntil', 'attempts')
  if j[1] == 'running' and tonumber(j[2] or '0') <= now then
    local attempts = j[3] or '0'
    local failError = 'lease expired ' .. attempts .. ' times (executor lost)'
    if retry_or_fail(policy, job, id, tonumber(attempts), now, failError, 'lease expired (executor lost); retrying') == 'failed' then
      failed[#failed + 1] = id
    else
      requeued[#requeued + 1] = id
    end
  end
end

local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[6]), 'LIMIT', 0, limit)
for _, id in ipairs(old) do
  local priority = redis.call('HGET', ARGV[4] .. id, 'priority')
  if priority then
    redis.call('ZADD', KEYS[2], now, id)
    stale[#stale + 1] = id
    stale[#stale + 1] = priority
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[5]) * 1000)

local ready = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ready) do
  redis.call('ZREM', KEYS[4], id)
  local job = ARGV[4] .. id
  local j = redis.call('HMGET', job, 'status', 'priority')
  if j[1] == 'queued' then
    redis.call('HDEL', job, 'notBefore')
    redis.call('ZADD', KEYS[2], now, id)
    stale[#stale + 1] = id
    stale[#stale + 1] = j[2] or '0'
  end
end
return { requeued, failed, stale }
