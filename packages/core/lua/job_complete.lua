--[[
  job_complete: record a finished check and finish its job, atomically and at most once.
  Writes the job's results, the asset's latest result per plugin, its history entry, counters
  and its state (edge-triggered: a transition appends one event).

  State rules: outcome 'unsupported' -> unsupported. 'error' -> down once the failure streak
  reaches downAfter (before that the state is kept). 'ok' and 'warn' end a failure streak;
  a down asset comes back after upAfter good checks; then 'ok' -> up, 'warn' -> degraded.
  A paused asset keeps the state 'paused' (its results are still recorded).
  A state change bumps the asset's rev (writers that read it before must re-read). While a
  maintenance window covers the asset (field `maintenance`), its state index entry stays
  'maintenance' (see maintenance_apply.lua); only the state field follows the checks.

  KEYS[1]   job hash
  KEYS[2]   leases (sorted set)
  KEYS[3]   asset hash
  KEYS[4]   asset latest-results hash
  KEYS[5]   asset history stream
  KEYS[6]   events stream
  KEYS[7]   asset roll-ups per minute (hash: bucket start, s -> JSON, see below)
  KEYS[8]   asset roll-ups per hour
  KEYS[9]   asset roll-ups per day
  KEYS[10]  asset events stream (this asset's state transitions)
  KEYS[11]  queued jobs (sorted set)

  ARGV[1]   job id
  ARGV[2]   lease token
  ARGV[3]   now, ms
  ARGV[4]   outcome: ok | warn | error | unsupported
  ARGV[5]   reason of the outcome ('' for none)
  ARGV[6]   results, JSON array
  ARGV[7]   total duration, ms
  ARGV[8]   retention of finished jobs, seconds
  ARGV[9]   history cap (entries, approximate)
  ARGV[10]  events cap (entries, approximate)
  ARGV[11]  default downAfter, ARGV[12] default upAfter (an asset's own fields win)
  ARGV[13]  owner index prefix, ARGV[14] fleet index prefix (suffix 'state:<state>')
  ARGV[15]  history age cap, ms (older entries are trimmed, approximately)
  ARGV[16]  roll-up retention per minute / ARGV[17] per hour / ARGV[18] per day, seconds
  ARGV[19]  fleet statistics key prefix (suffixes: 'checks' hash minute -> checks;
            'failures:<day>' sorted set asset -> failed checks that day)
  ARGV[20]  durations per plugin for the roll-ups: "name=ms;name=ms" (saves decoding ARGV[6])
  ARGV[21]  N, then N pairs: plugin name, JSON of its result

  Roll-ups (updated here, on the write path): one JSON object per bucket,
    { n = checks, o = { <outcome> = n }, r = { <reason> = n },
      p = { <plugin> = { n = runs, s = sum ms, x = max ms, h = { <bin> = n } } },
      t = { <state> = ms spent in it } }
  Latency bins: bin i counts durations <= EDGES[i+1] ms (0-based i), the last bin the rest.
  Time in a state: the time since the previous check, attributed to the state the asset was
  in, capped at twice its interval (a longer gap counts as 'gap').

  Returns { 1, fromState, toState }   recorded
          { 0, 'stale' }              the token no longer owns the job; nothing written

  A job found 'queued' lost its claim to a Redis restart from a snapshot taken before the
  claim: nobody owns it, and the check did run for it, so the result is recorded (waiting for
  the re-dispatch would run the check again, seconds later, for nothing).
          { 0, 'done' }               already recorded (a duplicate completion)
]]
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'done' or status == 'failed' then
  return { 0, 'done' }
end
if status == 'queued' then
  redis.call('ZREM', KEYS[11], ARGV[1])
elseif status ~= 'running' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return { 0, 'stale' }
end
local now = ARGV[3]
local outcome = ARGV[4]
local reason = ARGV[5]

redis.call('HSET', KEYS[1], 'status', 'done', 'finishedAt', now, 'outcome', outcome, 'results', ARGV[6])
redis.call('HDEL', KEYS[1], 'token', 'leaseUntil')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[8])

-- The asset may have been deleted while its check ran: the job is still done.
if redis.call('EXISTS', KEYS[3]) == 0 then
  return { 1, '', '' }
end

local a = redis.call('HMGET', KEYS[3], 'state', 'paused', 'downAfter', 'upAfter', 'seq', 'id', 'owner', 'pendingJob', 'lastCheckAt', 'interval', 'maintenance')
if a[8] == ARGV[1] then
  redis.call('HDEL', KEYS[3], 'pendingJob')
end
local from = a[1] or 'unknown'
local downAfter = tonumber(a[3] or ARGV[11]) or tonumber(ARGV[11])
local upAfter = tonumber(a[4] or ARGV[12]) or tonumber(ARGV[12])

local to = from
if outcome == 'unsupported' then
  to = 'unsupported'
  redis.call('HSET', KEYS[3], 'failStreak', 0, 'okStreak', 0)
elseif outcome == 'error' then
  local fails = redis.call('HINCRBY', KEYS[3], 'failStreak', 1)
  redis.call('HSET', KEYS[3], 'okStreak', 0)
  if fails >= downAfter then
    to = 'down'
  elseif from == 'unsupported' then
    to = 'unknown'
  end
else
  local oks = redis.call('HINCRBY', KEYS[3], 'okStreak', 1)
  redis.call('HSET', KEYS[3], 'failStreak', 0)
  if from == 'down' and oks < upAfter then
    to = 'down'
  elseif outcome == 'warn' then
    to = 'degraded'
  else
    to = 'up'
  end
end
if a[2] == '1' then
  to = 'paused'
end

if outcome == 'error' then
  redis.call('HINCRBY', KEYS[3], 'failCount', 1)
else
  redis.call('HINCRBY', KEYS[3], 'okCount', 1)
end
redis.call('HINCRBY', KEYS[3], 'checks', 1)
redis.call('HSET', KEYS[3], 'lastCheckAt', now, 'lastDurationMs', ARGV[7], 'lastOutcome', outcome, 'lastReason', reason, 'lastJobId', ARGV[1])

if to ~= from then
  redis.call('HSET', KEYS[3], 'state', to, 'stateChangedAt', now, 'stateReason', reason)
  redis.call('HINCRBY', KEYS[3], 'rev', 1)
  if not a[11] or a[11] == '' then
    local seq = a[5]
    for _, prefix in ipairs({ ARGV[13], ARGV[14] }) do
      redis.call('ZREM', prefix .. 'state:' .. from, a[6])
      redis.call('ZADD', prefix .. 'state:' .. to, seq, a[6])
    end
  end
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[10], '*', 'asset', a[6], 'owner', a[7], 'from', from, 'to', to, 'reason', reason, 'at', now, 'job', ARGV[1])
  -- The asset's own stream is keyed by the check's time (ranges are asked by time), never
  -- going backwards even when executors' clocks disagree a little.
  local eventMs = tonumber(now)
  local last = redis.call('XREVRANGE', KEYS[10], '+', '-', 'COUNT', 1)
  if #last > 0 then
    local lastMs = tonumber(string.match(last[1][1], '^(%d+)'))
    if lastMs > eventMs then eventMs = lastMs end
  end
  redis.call('XADD', KEYS[10], 'MAXLEN', '~', 1000, string.format('%d-*', eventMs), 'from', from, 'to', to, 'reason', reason, 'at', now)
end

-- Roll-ups.
local EDGES = { {{LATENCY_EDGES}} }
local function bin(ms)
  for i = 1, #EDGES do
    if ms <= EDGES[i] then return tostring(i - 1) end
  end
  return tostring(#EDGES)
end
local function incr(t, k, by)
  t[k] = (t[k] or 0) + by
end
local durations = {}
for name, ms in string.gmatch(ARGV[20], '([^=;]+)=([^;]+)') do
  durations[#durations + 1] = { name, tonumber(ms) or 0 }
end
local nowMs = tonumber(now)
local spent, spentState = 0, from
if a[9] then
  local dt = nowMs - tonumber(a[9])
  local cap = math.max(tonumber(a[10] or '60') * 2000, 120000)
  spent = math.min(dt, cap)
  if dt > cap then spent = dt; spentState = 'gap' end
end
local sizes = { 60, 3600, 86400 }
for i = 1, 3 do
  local key = KEYS[6 + i]
  local bucket = tostring(math.floor(nowMs / 1000 / sizes[i]) * sizes[i])
  local raw = redis.call('HGET', key, bucket)
  local b
  if raw then
    b = cjson.decode(raw)
  else
    b = { n = 0, o = {}, r = {}, p = {}, t = {} }
  end
  b.n = b.n + 1
  incr(b.o, outcome, 1)
  if reason ~= '' and outcome ~= 'ok' then incr(b.r, reason, 1) end
  for _, d in ipairs(durations) do
    local p = b.p[d[1]] or { n = 0, s = 0, x = 0, h = {} }
    local ms = d[2]
    p.n = p.n + 1
    p.s = p.s + ms
    if ms > p.x then p.x = ms end
    incr(p.h, bin(ms), 1)
    b.p[d[1]] = p
  end
  if spent > 0 then incr(b.t, spentState, spent) end
  redis.call('HSET', key, bucket, cjson.encode(b))
  if not raw then
    -- A new bucket: drop the ones past retention (rare: once per bucket size).
    local retention = tonumber(ARGV[15 + i])
    redis.call('EXPIRE', key, retention)
    local oldest = tonumber(bucket) - retention
    if redis.call('HLEN', key) > retention / sizes[i] then
      for _, f in ipairs(redis.call('HKEYS', key)) do
        if tonumber(f) < oldest then redis.call('HDEL', key, f) end
      end
    end
  end
end

-- Fleet statistics: checks per minute (two hours kept), failures per asset per day (three days).
local minute = tostring(math.floor(nowMs / 60000) * 60)
local checksKey = ARGV[19] .. 'checks'
if redis.call('HINCRBY', checksKey, minute, 1) == 1 and redis.call('HLEN', checksKey) > 130 then
  for _, f in ipairs(redis.call('HKEYS', checksKey)) do
    if tonumber(f) < tonumber(minute) - 7200 then redis.call('HDEL', checksKey, f) end
  end
end
if outcome == 'error' then
  local failuresKey = ARGV[19] .. 'failures:' .. tostring(math.floor(nowMs / 86400000))
  redis.call('ZINCRBY', failuresKey, 1, a[6])
  redis.call('EXPIRE', failuresKey, 259200)
end

local n = tonumber(ARGV[21])
if n > 0 then
  local pairs_ = {}
  for i = 22, 21 + 2 * n do
    pairs_[#pairs_ + 1] = ARGV[i]
  end
  redis.call('HSET', KEYS[4], unpack(pairs_))
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*', 'job', ARGV[1], 'at', now, 'outcome', outcome, 'results', ARGV[6])
redis.call('XTRIM', KEYS[5], 'MINID', '~', tostring(tonumber(now) - tonumber(ARGV[15])))
return { 1, from, to }
