--[[
  job_claim: take a lease on each of several jobs of one shard and return what is needed to run
  each, in one round trip. A job that is finished, or running under a live lease, is not claimed
  again: this is what makes a duplicate delivery harmless.

  KEYS[1]   queued jobs (sorted set)
  KEYS[2]   leases (sorted set, score = lease deadline)
  KEYS[3]   failed jobs (sorted set)
  KEYS[4..] the jobs' hashes, one per job

  ARGV[1]   now, ms
  ARGV[2]   lease length, ms
  ARGV[3]   asset hash key prefix (assetPrefix in keys.ts)
  ARGV[4]   retention of finished pushed jobs, seconds (a scheduled job, field `scheduled`, is
            deleted when it ends: nobody polls it)
  ARGV[5]   nf, then nf asset fields the executor needs (returned in this order)
  ..        then per job (in KEYS order): job id, lease token (random, unique per claim)

  Returns, per job in KEYS order:
          { 1, attempts, value, … }         claimed; the values of the asked asset fields
          { 0, why }                        not claimed: 'missing', 'done', 'failed', 'running', 'deferred',
                                            'asset_deleted' (a pushed job is failed with that error)
]]
local now = tonumber(ARGV[1])
local leaseMs = tonumber(ARGV[2])
local nf = tonumber(ARGV[5])
local fields = {}
for i = 1, nf do fields[i] = ARGV[5 + i] end

-- Taken from the queue and leased, for all the jobs of the call at once (two calls, not two a job).
local dequeued, leased = {}, {}

local function claim(jobKey, id, token)
  local job = redis.call('HMGET', jobKey, 'status', 'leaseUntil', 'notBefore', 'assetId', 'scheduled', 'attempts')
  local status = job[1]
  if not status then
    redis.call('ZREM', KEYS[1], id)
    return { 0, 'missing' }
  end
  if status == 'done' or status == 'failed' then
    return { 0, status }
  end
  if status == 'running' and tonumber(job[2] or '0') > now then
    return { 0, 'running' }
  end
  if tonumber(job[3] or '0') > now then
    return { 0, 'deferred' }
  end
  local assetKey = ARGV[3] .. job[4]
  -- The asset's fields first: none at all means it was deleted.
  local values = redis.call('HMGET', assetKey, unpack(fields))
  local found = false
  for i = 1, nf do
    if values[i] then found = true; break end
  end
  if not found then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    if job[5] == '1' then
      redis.call('DEL', jobKey)
    else
      redis.call('HSET', jobKey, 'status', 'failed', 'error', 'asset_deleted', 'finishedAt', now)
      redis.call('HDEL', jobKey, 'token', 'leaseUntil')
      redis.call('EXPIRE', jobKey, ARGV[4])
    end
    return { 0, 'asset_deleted' }
  end
  local deadline = now + leaseMs
  local attempts = (tonumber(job[6]) or 0) + 1
  redis.call('HSET', jobKey, 'status', 'running', 'token', token, 'startedAt', now, 'leaseUntil', deadline, 'attempts', attempts)
  dequeued[#dequeued + 1] = id
  leased[#leased + 1], leased[#leased + 2] = deadline, id
  local out = { 1, attempts }
  for i = 1, nf do
    out[#out + 1] = values[i] or ''
  end
  return out
end

local replies = {}
local at = 6 + nf
for k = 4, #KEYS do
  replies[#replies + 1] = claim(KEYS[k], ARGV[at], ARGV[at + 1])
  at = at + 2
end
if #dequeued > 0 then
  redis.call('ZREM', KEYS[1], unpack(dequeued))
  redis.call('ZADD', KEYS[2], unpack(leased))
end
return replies
