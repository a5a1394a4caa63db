--[[
  job_claim: take a lease on a job and return what is needed to run it, in one round trip.
  A job that is finished, or running under a live lease, is not claimed again: this is what
  makes a duplicate delivery harmless.

  KEYS[1]   job hash
  KEYS[2]   queued jobs (sorted set)
  KEYS[3]   leases (sorted set, score = lease deadline)
  KEYS[4]   failed jobs (sorted set)

  ARGV[1]   job id
  ARGV[2]   lease token (random, unique per claim)
  ARGV[3]   now, ms
  ARGV[4]   lease length, ms
  ARGV[5]   asset hash key prefix (assetPrefix in keys.ts)
  ARGV[6]   retention of finished pushed jobs, seconds (a scheduled job, field `scheduled`, is
            deleted when it ends: nobody polls it)

  ARGV[7..] asset fields the executor needs (returned in this order)

  Returns { 1, attempts, value, … }         claimed; the values of the asked asset fields
          { 0, why }                        not claimed: 'missing', 'done', 'failed', 'running', 'deferred',
                                            'asset_deleted' (a pushed job is failed with that error)
]]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 0, 'missing' }
end
local now = tonumber(ARGV[3])
if status == 'done' or status == 'failed' then
  return { 0, status }
end
if status == 'running' and tonumber(redis.call('HGET', KEYS[1], 'leaseUntil') or '0') > now then
  return { 0, 'running' }
end
if tonumber(redis.call('HGET', KEYS[1], 'notBefore') or '0') > now then
  return { 0, 'deferred' }
end
local assetId = redis.call('HGET', KEYS[1], 'assetId')
local assetKey = ARGV[5] .. assetId
if redis.call('EXISTS', assetKey) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  if redis.call('HGET', KEYS[1], 'scheduled') == '1' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'status', 'failed', 'error', 'asset_deleted', 'finishedAt', now)
    redis.call('HDEL', KEYS[1], 'token', 'leaseUntil')
    redis.call('EXPIRE', KEYS[1], ARGV[6])
  end
  return { 0, 'asset_deleted' }
end
local deadline = now + tonumber(ARGV[4])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'token', ARGV[2], 'startedAt', now, 'leaseUntil', deadline)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], deadline, ARGV[1])
local fields = {}
for i = 7, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local values = redis.call('HMGET', assetKey, unpack(fields))
local out = { 1, attempts }
for i = 1, #values do
  out[#out + 1] = values[i] or ''
end
return out
