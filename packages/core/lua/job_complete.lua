--[[
  job_complete: record a finished check and finish its job, atomically and at most once.
  Writes the job's results, the asset's latest result per plugin, its history entry, counters,
  roll-ups, fleet statistics and its state (edge-triggered: a transition appends one event to
  the events stream and one to the asset's own). A scheduled job (field `scheduled`) is
  deleted once done: its result is in the history and nobody polls it; a job pushed through
  the API keeps its hash, results included, for the retention of finished jobs.

  State rules: outcome 'unsupported' -> unsupported. 'error' -> down once the failure streak
  reaches downAfter (before that the state is kept). 'ok' and 'warn' end a failure streak;
  a down asset comes back after upAfter good checks; then 'ok' -> up, 'warn' -> degraded.
  A paused asset keeps the state 'paused' (its results are still recorded).
  A state change bumps the asset's rev (writers that read it before must re-read). While a
  maintenance window covers the asset (field `maintenance`), its state index entry stays
  'maintenance' (see maintenance_apply.lua); only the state field follows the checks.

  Several completions of one shard go in one call (JobStore.completeMany). KEYS: the shard's
  four keys (leases, events, queued jobs, delayed jobs: KEYS[2], [6], [11], [13] below), then
  the nine others below for each completion in turn. ARGV: the number of completions, the
  policy (ARGV 8-14, 16-20 below, in that order), then for each completion its number of
  arguments and the rest of its arguments below (ARGV 1-7, 15, 21 on). The reply is one reply
  per completion, in order. Each completion is checked and written as if it came alone.

  Per completion, as completeOne sees it:
  KEYS[1]   job hash
  KEYS[2]   leases (sorted set)
  KEYS[3]   asset hash
  KEYS[4]   asset latest-results hash
  KEYS[5]   asset raw results (list, newest first; format in store/results-codec.ts)
  KEYS[6]   events stream
  KEYS[7]   asset roll-ups per minute (string: a ring of binary cells, see below)
  KEYS[8]   asset roll-ups per hour
  KEYS[9]   asset roll-ups per day
  KEYS[10]  asset events stream (this asset's state transitions)
  KEYS[11]  queued jobs (sorted set)
  KEYS[12]  asset raw results of earlier versions (stream): KEYS[5] is renamed to it when found a
            stream; trimmed so that both hold at most the cap together, expires after the age cap
  KEYS[13]  delayed jobs (sorted set)

  ARGV      the completion, flat (built by JobStore.complete in store/jobs.ts; numbers as
            decimal text, which Redis would store as given):
    1  id              job id
    2  token           lease token
    3  now             time the check ended, ms (written as given)
    4  outcome         ok | warn | error | unsupported
    5  reason          reason of the outcome ('' for none)
    6  results         the results, JSON array text (kept in the job hash as given)
    7  durationMs      total duration, ms (written as given)
    8  retentionSec    retention of finished pushed jobs, seconds
    9  historyMax      history cap (entries)
    10 historyMaxAgeMs history age cap, ms (older entries are dropped, a few per call)
    11 eventsMax       cap of the events stream KEYS[6] (entries, approximate)
    12 assetEventsMax  cap of the asset's events stream KEYS[10] (entries, approximate)
    13 downAfter       default downAfter; 14 upAfter: default upAfter (an asset's own fields win)
    15 ownerIndex      owner index prefix; 16 fleetIndex: fleet index prefix (suffix 'state:<state>')
    17-19 rollupSec    roll-up retention per resolution (minute, hour, day), seconds
    20 statsPrefix     fleet statistics key prefix (suffixes: 'checks' hash minute -> checks;
                       'failing:<owner>:<day>' sorted set asset -> failed checks on days day-1 and
                       day, for the asset's owner and for '*'; see statsFailing in keys.ts)
    21 nd              then nd triples, what the check adds to the roll-ups per plugin: plugin,
                       duration (us), latency bin (rollupDurations in rollup.ts; saves decoding
                       `results`)
    .. nl              then nl pairs, plugin and JSON of its result: fields of KEYS[4]
    .. tokens          the rest: the results as history tokens (store/results-codec.ts)

  Roll-ups (updated here, on the write path): per resolution one string, a ring of fixed-width
  cells, one per bucket (minute, hour, day since the epoch) that saw a check, oldest first; the
  format is documented in rollup.ts (decodeRing reads it). A check is written to the minute
  ring; hour and day cells are folded from the finer ring when their period closes
  (includes/rollups.lua). A cell holds, in columns the
  layout text names: checks per outcome, per reason, ms per state, and per plugin the sum and
  the maximum of its durations (us) and its runs per latency bin. Values are unsigned
  big-endian integers of the layout's widths; a value, a name or a cell the ring cannot hold
  in place re-lays the whole ring out, copying cells by byte ranges (rare: a new name, a
  value crossing a byte, a full ring, a late check of a bucket without a cell). Retention:
  the ring keeps the buckets in (newest - cap, newest], cap = retention / bucket size + 1;
  older cells are reused for new buckets, and an untouched ring expires.
  Latency bins: bin i counts durations <= LATENCY_EDGES_MS[i] ms (0-based i, rollup.ts), the
  last bin the rest.
  Time in a state: the time since the previous check, attributed to the state the asset was
  in; a gap longer than twice its interval (at least 2 minutes) counts, whole, as 'gap'.

  A job found 'queued' lost its claim to a Redis restart from a snapshot taken before the
  claim, or to an expired lease or a deferral: nobody owns it, and the check did run for it, so
  the result is recorded (waiting for the re-dispatch would run the check again, seconds later,
  for nothing) and the retry it was waiting for is dropped.

  Returns { 1, fromState, toState }   recorded (fromState = toState: no transition)
          { 1, '', '' }               the job is done, but its asset was deleted while its
                                      check ran: nothing else written
          { 0, 'stale' }              the token no longer owns the job; nothing written
          { 0, 'done' }               the job already ended (a duplicate completion, or it
                                      failed); nothing written
]]
-- Roll-ups: recordRollups and what it needs, shared by the completions of a call (its caches
-- of ring layouts too).
--- @include "includes/rollups"

-- The policy, the same for every completion of a call (ARGV 8-14, 16-20 above).
local P = { retentionSec = ARGV[2], historyMax = tonumber(ARGV[3]), historyMaxAgeMs = tonumber(ARGV[4]), eventsMax = ARGV[5], assetEventsMax = ARGV[6],
  downAfter = tonumber(ARGV[7]), upAfter = tonumber(ARGV[8]), fleetIndex = ARGV[9],
  rollupSec = { tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]) }, statsPrefix = ARGV[13] }

-- What the completions of the call write to shared keys, written once after them: the jobs to
-- take out of the leases, the checks per minute (fleet statistics).
local unleased, checksPerMinute, minutes = {}, {}, {}

-- ARGV: the completion's own arguments are ARGV[at .. last] (ARGV 1-7, 15, 21 on above).
local function completeOne(KEYS, ARGV, at, last)
  local A = { id = ARGV[at], token = ARGV[at + 1], now = ARGV[at + 2], outcome = ARGV[at + 3], reason = ARGV[at + 4], results = ARGV[at + 5], durationMs = ARGV[at + 6],
    retentionSec = P.retentionSec, historyMax = P.historyMax, historyMaxAgeMs = P.historyMaxAgeMs, eventsMax = P.eventsMax, assetEventsMax = P.assetEventsMax,
    downAfter = P.downAfter, upAfter = P.upAfter, ownerIndex = ARGV[at + 7], fleetIndex = P.fleetIndex,
    rollupSec = P.rollupSec, statsPrefix = P.statsPrefix, durations = {} }
  local argAt = at + 9
  for _ = 1, tonumber(ARGV[at + 8]) do
    local D = A.durations
    D[#D + 1], D[#D + 2], D[#D + 3] = ARGV[argAt], tonumber(ARGV[argAt + 1]), tonumber(ARGV[argAt + 2])
    argAt = argAt + 3
  end
  -- The latest results are ARGV[latestAt .. tokensAt - 1], the history tokens the rest.
  local latestAt = argAt + 1
  local tokensAt = latestAt + 2 * tonumber(ARGV[argAt])
  local jobId = A.id
  local job = redis.call('HMGET', KEYS[1], 'status', 'token', 'scheduled')
  local status = job[1]
  if status == 'done' or status == 'failed' then
    return { 0, 'done' }
  end
  if status == 'queued' then
    -- Re-queued (a Redis restart, an expired lease, a deferral): this result ends the job, so the
    -- retry it was waiting for is dropped with its bookkeeping.
    redis.call('ZREM', KEYS[11], jobId)
    redis.call('ZREM', KEYS[13], jobId)
    redis.call('HDEL', KEYS[1], 'error', 'notBefore')
  elseif status ~= 'running' or job[2] ~= A.token then
    return { 0, 'stale' }
  end
  local now = A.now
  local outcome = A.outcome
  local reason = A.reason

  if job[3] == '1' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'status', 'done', 'finishedAt', now, 'outcome', outcome, 'results', A.results)
    redis.call('HDEL', KEYS[1], 'token', 'leaseUntil')
    redis.call('EXPIRE', KEYS[1], A.retentionSec)
  end
  unleased[#unleased + 1] = jobId

  local a = redis.call('HMGET', KEYS[3], 'state', 'paused', 'downAfter', 'upAfter', 'seq', 'id', 'owner', 'pendingJob', 'lastCheckAt', 'interval', 'maintenance',
    'failStreak', 'okStreak', 'failCount', 'okCount', 'checks')
  -- The asset may have been deleted while its check ran (no seq: every asset has one): the job
  -- is still done.
  if not a[5] then
    return { 1, '', '' }
  end
  local from = a[1] or 'unknown'
  local downAfter = tonumber(a[3] or A.downAfter) or A.downAfter
  local upAfter = tonumber(a[4] or A.upAfter) or A.upAfter

  -- Counters are read above and written with the check's fields in one HSET (as HINCRBY would
  -- count them; the streak that goes on is written first, as it always was).
  local counters
  local to = from
  if outcome == 'unsupported' then
    to = 'unsupported'
    counters = { 'failStreak', 0, 'okStreak', 0 }
  elseif outcome == 'error' then
    local fails = (tonumber(a[12]) or 0) + 1
    counters = { 'failStreak', fails, 'okStreak', 0 }
    if fails >= downAfter then
      to = 'down'
    elseif from == 'unsupported' then
      to = 'unknown'
    end
  else
    local oks = (tonumber(a[13]) or 0) + 1
    counters = { 'okStreak', oks, 'failStreak', 0 }
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
    counters[5], counters[6] = 'failCount', (tonumber(a[14]) or 0) + 1
  else
    counters[5], counters[6] = 'okCount', (tonumber(a[15]) or 0) + 1
  end
  local fields = { counters[1], counters[2], counters[3], counters[4], counters[5], counters[6], 'checks', (tonumber(a[16]) or 0) + 1,
    'lastCheckAt', now, 'lastDurationMs', A.durationMs, 'lastOutcome', outcome, 'lastReason', reason, 'lastJobId', jobId }
  -- The asset's scheduled job is over ('' is no job: cheaper than an HDEL of its own).
  if a[8] == jobId then
    fields[#fields + 1], fields[#fields + 2] = 'pendingJob', ''
  end
  redis.call('HSET', KEYS[3], unpack(fields))

  if to ~= from then
    redis.call('HSET', KEYS[3], 'state', to, 'stateChangedAt', now, 'stateReason', reason)
    redis.call('HINCRBY', KEYS[3], 'rev', 1)
    if not a[11] or a[11] == '' then
      local seq = a[5]
      for _, prefix in ipairs({ A.ownerIndex, A.fleetIndex }) do
        redis.call('ZREM', prefix .. 'state:' .. from, a[6])
        redis.call('ZADD', prefix .. 'state:' .. to, seq, a[6])
      end
    end
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', A.eventsMax, '*', 'asset', a[6], 'owner', a[7], 'from', from, 'to', to, 'reason', reason, 'at', now, 'job', jobId)
    -- The asset's own stream is keyed by the check's time (ranges are asked by time), never
    -- going backwards even when executors' clocks disagree a little.
    local eventMs = tonumber(now)
    local last = redis.call('XREVRANGE', KEYS[10], '+', '-', 'COUNT', 1)
    if #last > 0 then
      local lastMs = tonumber(string.match(last[1][1], '^(%d+)'))
      if lastMs > eventMs then eventMs = lastMs end
    end
    redis.call('XADD', KEYS[10], 'MAXLEN', '~', A.assetEventsMax, string.format('%d-*', eventMs), 'from', from, 'to', to, 'reason', reason, 'at', now)
  end

  -- Roll-ups (includes/rollups.lua): the check goes to the minute ring; the hour and day rings are
  -- folded from it once their period has closed.
  local nowMs = tonumber(now)
  do
    local spent, spentState = 0, from
    -- Time since the previous check beyond this is a gap, not time in a state.
    local cap = math.max(tonumber(a[10] or '60') * 2000, 120000)
    if a[9] then
      local dt = nowMs - tonumber(a[9])
      spent = math.min(dt, cap)
      if dt > cap then spent = dt; spentState = 'gap' end
      spent = math.floor(spent + 0.5)
    end
    recordRollups({ KEYS[7], KEYS[8], KEYS[9] }, nowMs,
      { outcome = outcome, reason = reason, durations = A.durations, spent = spent, spentState = spentState, spentCap = cap, interval = tonumber(a[10]) }, A.rollupSec, a[5])
  end

  -- Fleet statistics: checks per minute (two hours kept; counted after the loop), failures per
  -- asset over two days.
  local minute = tostring(math.floor(nowMs / 60000) * 60)
  if not checksPerMinute[minute] then minutes[#minutes + 1] = minute end
  checksPerMinute[minute] = (checksPerMinute[minute] or 0) + 1
  if outcome == 'error' then
    -- A failure on day d counts in the sets of days d and d + 1, so the top of one set is the
    -- top over two days (read with ZREVRANGE, never a union). A set is kept until its day ends.
    local day = math.floor(nowMs / 86400000)
    for _, owner in ipairs({ a[7] or '', '*' }) do
      for d = day, day + 1 do
        local failingKey = A.statsPrefix .. 'failing:' .. owner .. ':' .. tostring(d)
        -- Every member of a set shares its day's expiry: set it with the asset's first failure.
        if tonumber(redis.call('ZINCRBY', failingKey, 1, a[6])) == 1 then
          redis.call('EXPIREAT', failingKey, (d + 1) * 86400 + 3600)
        end
      end
    end
  end

  if tokensAt > latestAt then
    redis.call('HSET', KEYS[4], unpack(ARGV, latestAt, tokensAt - 1))
  end

  -- Raw results (format in store/results-codec.ts): the new entry goes in full at the head; the
  -- entry it displaces is rewritten as its difference from the new one.
  local historyCap = A.historyMax
  local atMs = tonumber(now)
  local tokens = table.concat(ARGV, '\31', tokensAt, last)
  local head = redis.pcall('LINDEX', KEYS[5], 0)
  if type(head) == 'table' then
    redis.call('RENAME', KEYS[5], KEYS[12])
    redis.call('EXPIRE', KEYS[12], math.ceil(A.historyMaxAgeMs / 1000))
    head = false
  end
  local idMs, seq = atMs, 0
  local cut = head and string.find(head, '\30', 1, true)
  local headMs, headSeq = string.match(head or '', '^(%d+)%-?(%d*)')
  if cut and headMs then
    if tonumber(headMs) >= atMs then
      idMs, seq = tonumber(headMs), (tonumber(headSeq) or 0) + 1
    end
    local diff, i, run = {}, 0, 0
    for t in string.gmatch(string.sub(head, cut + 1), '[^\31]+') do
      i = i + 1
      if tokensAt + i - 1 <= last and t == ARGV[tokensAt + i - 1] then
        run = run + 1
      else
        if run > 0 then diff[#diff + 1] = '=' .. run; run = 0 end
        diff[#diff + 1] = t
      end
    end
    if run > 0 then diff[#diff + 1] = '=' .. run end
    redis.call('LSET', KEYS[5], 0, string.sub(head, 1, cut) .. table.concat(diff, '\31'))
  end
  local id = string.format('%d', idMs) .. (seq > 0 and ('-' .. seq) or '') .. (idMs ~= atMs and ('@' .. string.format('%d', atMs)) or '')
  if redis.call('LPUSH', KEYS[5], id .. '\29' .. outcome .. '\29' .. jobId .. '\30' .. tokens) > historyCap then
    redis.call('LTRIM', KEYS[5], 0, historyCap - 1)
  end
  local oldest = atMs - A.historyMaxAgeMs
  for _ = 1, 4 do
    local last = tonumber(string.match(redis.call('LINDEX', KEYS[5], -1) or '', '^(%d+)'))
    if not last or last >= oldest or redis.call('LLEN', KEYS[5]) <= 1 then break end
    redis.call('RPOP', KEYS[5])
  end
  if redis.call('EXISTS', KEYS[12]) == 1 then
    local room = historyCap - redis.call('LLEN', KEYS[5])
    if room <= 0 then
      redis.call('DEL', KEYS[12])
    else
      redis.call('XTRIM', KEYS[12], 'MAXLEN', room)
      redis.call('XTRIM', KEYS[12], 'MINID', '~', string.format('%d', oldest))
    end
  end
  return { 1, from, to }
end

local replies, keyAt, argAt = {}, 5, 14
for i = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[argAt])
  local K = { KEYS[keyAt], KEYS[1], KEYS[keyAt + 1], KEYS[keyAt + 2], KEYS[keyAt + 3], KEYS[2], KEYS[keyAt + 4], KEYS[keyAt + 5], KEYS[keyAt + 6],
    KEYS[keyAt + 7], KEYS[3], KEYS[keyAt + 8], KEYS[4] }
  replies[i] = completeOne(K, ARGV, argAt + 1, argAt + n)
  keyAt, argAt = keyAt + 9, argAt + 1 + n
end
if #unleased > 0 then
  redis.call('ZREM', KEYS[1], unpack(unleased))
end
local checksKey = P.statsPrefix .. 'checks'
for _, minute in ipairs(minutes) do
  local n = checksPerMinute[minute]
  -- A new field: minutes older than two hours go.
  if redis.call('HINCRBY', checksKey, minute, n) == n and redis.call('HLEN', checksKey) > 130 then
    for _, f in ipairs(redis.call('HKEYS', checksKey)) do
      if tonumber(f) < tonumber(minute) - 7200 then redis.call('HDEL', checksKey, f) end
    end
  end
end
return replies
