--[[
  schedule_claim: turn due assets into queued jobs, atomically (two dispatchers never schedule
  the same check twice). Each claimed asset's next due time moves one interval on; an asset
  that fell behind (the dispatcher was away) is re-spread over its interval instead of firing
  in a burst. An asset whose previous scheduled job is still queued or running is skipped
  (no pile-up behind a slow target); paused, unsupported and deleted assets leave the schedule.

  KEYS[1]   schedule (sorted set: asset id -> due time, ms)
  KEYS[2]   queued jobs (sorted set)
  KEYS[3]   job sequence counter

  Job ids are 's<hex ms of the Redis clock>-<sequence>': the sequence alone would repeat after
  Redis restarts from an older snapshot (the counter goes back, the clock does not).

  ARGV[1]   now, ms
  ARGV[2]   most jobs to create in this call
  ARGV[3]   most jobs queued at once (backpressure bound)
  ARGV[4]   asset hash key prefix (assetPrefix in keys.ts)
  ARGV[5]   job hash key prefix (jobPrefix in keys.ts)
  ARGV[6]   random seed (jitter)

  Returns { created, skipped, backpressure, jobId, … }   backpressure is 1 when the queue bound
                                                        stopped this call early
]]
local now = tonumber(ARGV[1])
local room = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[2])
if room <= 0 then
  return { 0, 0, 1 }
end
local limit = math.min(tonumber(ARGV[2]), room)
math.randomseed(tonumber(ARGV[6]))
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local out = { 0, 0, 0 }
local clock = redis.call('TIME')
local epoch = string.format('s%x-', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
for i = 1, #due, 2 do
  local assetId = due[i]
  local dueAt = tonumber(due[i + 1])
  local key = ARGV[4] .. assetId
  local a = redis.call('HMGET', key, 'interval', 'paused', 'state', 'owner', 'pendingJob')
  if not a[1] or a[2] == '1' or a[3] == 'unsupported' then
    redis.call('ZREM', KEYS[1], assetId)
  else
    local interval = tonumber(a[1]) * 1000
    local nextAt = dueAt + interval
    if nextAt <= now then
      nextAt = now + math.floor(interval * math.random())
    end
    redis.call('ZADD', KEYS[1], nextAt, assetId)
    local pending = a[5] and redis.call('HGET', ARGV[5] .. a[5], 'status')
    if pending == 'queued' or pending == 'running' then
      out[2] = out[2] + 1
    else
      local jobId = epoch .. redis.call('INCR', KEYS[3])
      redis.call('HSET', ARGV[5] .. jobId, 'id', jobId, 'assetId', assetId, 'owner', a[4], 'priority', 0, 'status', 'queued',
        'attempts', 0, 'createdAt', now, 'scheduled', 1)
      redis.call('ZADD', KEYS[2], now, jobId)
      redis.call('HSET', key, 'pendingJob', jobId)
      out[1] = out[1] + 1
      out[#out + 1] = jobId
    end
  end
end
if #due / 2 >= limit and limit < tonumber(ARGV[2]) then
  out[3] = 1
end
return out
