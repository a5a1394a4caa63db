--[[
  schedule_claim: turn due assets into queued jobs, atomically (two dispatchers never schedule
  the same check twice). Each claimed asset's next due time moves one interval on; an asset
  that fell behind (the dispatcher was away, or the executors could not keep up) is re-spread
  over its interval instead of firing in a burst. An asset whose previous scheduled job is still
  queued or running is skipped (no pile-up behind a slow target); paused, unsupported and deleted
  assets leave the schedule.

  Skipped checks are counted, never dropped silently:
    late     due times that passed while the asset waited more than one interval (the check at
             its oldest due time still runs; the ones after it, up to now, are skipped)
    pending  this due time, because the asset's previous check is still queued or running
  per asset in its hash (field skippedChecks, both reasons) and per owner and fleet-wide in
  KEYS[4] (fields '<owner>:late', '<owner>:pending', and the same under ARGV[7]).

  KEYS[1]   schedule (sorted set: asset id -> due time, ms)
  KEYS[2]   queued jobs (sorted set)
  KEYS[3]   job sequence counter
  KEYS[4]   skipped-check counters (hash)

  Job ids are 's<hex ms of the Redis clock>-<sequence><ARGV[8]>': the sequence alone would repeat after
  Redis restarts from an older snapshot (the counter goes back, the clock does not).

  ARGV[1]   now, ms
  ARGV[2]   most jobs to create in this call
  ARGV[3]   most jobs queued at once (backpressure bound)
  ARGV[4]   asset hash key prefix (assetPrefix in keys.ts)
  ARGV[5]   job hash key prefix (jobPrefix in keys.ts)
  ARGV[6]   random seed (jitter)
  ARGV[7]   the owner name that stands for every owner (ALL_OWNERS in keys.ts)
  ARGV[8]   shard marker appended to job ids ('.<shard>', '' with a single shard; see keys.ts)

  Returns { created, pending, backpressure, late, queued, jobId, dueAt, jobId, dueAt, … }
          pending and late: checks skipped in this call (see above); backpressure is 1 when the
          queue bound stopped this call early; queued: jobs queued when it returned; dueAt: the
          due time (ms) each created job stands for
]]
local now = tonumber(ARGV[1])
local queued = redis.call('ZCARD', KEYS[2])
local room = tonumber(ARGV[3]) - queued
if room <= 0 then
  return { 0, 0, 1, 0, queued }
end
local limit = math.min(tonumber(ARGV[2]), room)
math.randomseed(tonumber(ARGV[6]))
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local out = { 0, 0, 0, 0, 0 }
local skips = {}
local function skip(owner, reason, n)
  local field = owner .. ':' .. reason
  skips[field] = (skips[field] or 0) + n
end
local clock = redis.call('TIME')
local epoch = string.format('s%x-', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
local nextSeq, lastSeq = 1, 0
for i = 1, #due, 2 do
  local assetId = due[i]
  local dueAt = tonumber(due[i + 1])
  local key = ARGV[4] .. assetId
  local a = redis.call('HMGET', key, 'interval', 'paused', 'state', 'owner', 'pendingJob')
  if not a[1] or a[2] == '1' or a[3] == 'unsupported' then
    redis.call('ZREM', KEYS[1], assetId)
  else
    local interval = tonumber(a[1]) * 1000
    local owner = a[4] or ''
    local skipped = 0
    local nextAt = dueAt + interval
    if nextAt <= now then
      local late = math.floor((now - dueAt) / interval)
      skipped = skipped + late
      out[4] = out[4] + late
      skip(owner, 'late', late)
      nextAt = now + math.floor(interval * math.random())
    end
    redis.call('ZADD', KEYS[1], nextAt, assetId)
    -- '' is no job (job_complete clears the field).
    local pending = a[5] and a[5] ~= '' and redis.call('HGET', ARGV[5] .. a[5], 'status')
    if pending == 'queued' or pending == 'running' then
      skipped = skipped + 1
      out[2] = out[2] + 1
      skip(owner, 'pending', 1)
    else
      if nextSeq > lastSeq then
        -- Sequence numbers for every due asset left, in one call (skipped ones leave gaps).
        lastSeq = redis.call('INCRBY', KEYS[3], (#due - i + 1) / 2)
        nextSeq = lastSeq - (#due - i + 1) / 2 + 1
      end
      local jobId = epoch .. nextSeq .. (ARGV[8] or '')
      nextSeq = nextSeq + 1
      redis.call('HSET', ARGV[5] .. jobId, 'id', jobId, 'assetId', assetId, 'owner', owner, 'priority', 0, 'status', 'queued',
        'attempts', 0, 'createdAt', now, 'scheduled', 1)
      redis.call('ZADD', KEYS[2], now, jobId)
      redis.call('HSET', key, 'pendingJob', jobId)
      out[1] = out[1] + 1
      out[#out + 1] = jobId
      out[#out + 1] = dueAt
    end
    if skipped > 0 then
      redis.call('HINCRBY', key, 'skippedChecks', skipped)
    end
  end
end
for field, n in pairs(skips) do
  redis.call('HINCRBY', KEYS[4], field, n)
  redis.call('HINCRBY', KEYS[4], ARGV[7] .. string.sub(field, string.find(field, ':[^:]*$')), n)
end
if #due / 2 >= limit and limit < tonumber(ARGV[2]) then
  out[3] = 1
end
out[5] = queued + out[1]
return out
