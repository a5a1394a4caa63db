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

  ARGV[1]   the completion, one MessagePack map (cmsgpack; built by JobStore.complete in
            store/jobs.ts). Fields:
    id              job id
    token           lease token
    now             time the check ended, ms, as a decimal string (written as given)
    outcome         ok | warn | error | unsupported
    reason          reason of the outcome ('' for none)
    results         the results, JSON array text (kept in the job hash as given)
    durationMs      total duration, ms, as a decimal string (written as given)
    retentionSec    retention of finished pushed jobs, seconds
    historyMax      history cap (entries)
    historyMaxAgeMs history age cap, ms (older entries are dropped, a few per call)
    eventsMax       cap of the events stream KEYS[6] (entries, approximate)
    assetEventsMax  cap of the asset's events stream KEYS[10] (entries, approximate)
    downAfter       default downAfter; upAfter: default upAfter (an asset's own fields win)
    ownerIndex      owner index prefix; fleetIndex: fleet index prefix (suffix 'state:<state>')
    rollupSec       [minute, hour, day]: roll-up retention per resolution, seconds
    statsPrefix     fleet statistics key prefix (suffixes: 'checks' hash minute -> checks;
                    'failing:<owner>:<day>' sorted set asset -> failed checks on days day-1 and
                    day, for the asset's owner and for '*'; see statsFailing in keys.ts)
    durations       durations per plugin for the roll-ups: "name=ms;name=ms" (saves decoding
                    `results`)
    latest          [plugin, JSON of its result, plugin, JSON, …]: fields of KEYS[4]
    tokens          the results as history tokens joined by \x1f (store/results-codec.ts)

  Roll-ups (updated here, on the write path): per resolution one string, a ring of fixed-width
  cells, one per bucket (minute, hour, day since the epoch) that saw a check, oldest first; the
  format is documented in rollup.ts (decodeRing reads it). A cell holds, in columns the
  layout text names: checks per outcome, per reason, ms per state, and per plugin the sum and
  the maximum of its durations (us) and its runs per latency bin. Values are unsigned
  big-endian integers of the layout's widths; a value, a name or a cell the ring cannot hold
  in place re-lays the whole ring out, copying cells by byte ranges (rare: a new name, a
  value crossing a byte, a full ring, a late check of a bucket without a cell). Retention:
  the ring keeps the buckets in (newest - cap, newest], cap = retention / bucket size + 1;
  older cells are reused for new buckets, and an untouched ring expires.
  Latency bins: bin i counts durations <= EDGES[i+1] ms (0-based i), the last bin the rest.
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
local A = cmsgpack.unpack(ARGV[1])
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
redis.call('ZREM', KEYS[2], jobId)

-- The asset may have been deleted while its check ran: the job is still done.
if redis.call('EXISTS', KEYS[3]) == 0 then
  return { 1, '', '' }
end

local a = redis.call('HMGET', KEYS[3], 'state', 'paused', 'downAfter', 'upAfter', 'seq', 'id', 'owner', 'pendingJob', 'lastCheckAt', 'interval', 'maintenance')
if a[8] == jobId then
  redis.call('HDEL', KEYS[3], 'pendingJob')
end
local from = a[1] or 'unknown'
local downAfter = tonumber(a[3] or A.downAfter) or A.downAfter
local upAfter = tonumber(a[4] or A.upAfter) or A.upAfter

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
redis.call('HSET', KEYS[3], 'lastCheckAt', now, 'lastDurationMs', A.durationMs, 'lastOutcome', outcome, 'lastReason', reason, 'lastJobId', jobId)

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

-- Roll-ups: one ring per resolution (layout in the header above and in rollup.ts).
local nowMs = tonumber(now)
do
  local EDGES = { {{LATENCY_EDGES}} }
  local LIMIT = { 256, 65536, 16777216, 4294967296, 1099511627776, 281474976710656 }
  local MAXV = LIMIT[6] - 1
  local PREFIX = 24
  local function bin(ms)
    for i = 1, #EDGES do
      if ms <= EDGES[i] then return i - 1 end
    end
    return #EDGES
  end
  local function incr(t, k, by)
    t[k] = math.min((t[k] or 0) + by, MAXV)
  end
  local function getu(s, pos, w)
    local v = 0
    for i = pos, pos + w - 1 do v = v * 256 + string.byte(s, i) end
    return v
  end
  local function putu(v, w)
    local t = {}
    for i = w, 1, -1 do
      t[i] = string.char(v % 256)
      v = math.floor(v / 256)
    end
    return table.concat(t)
  end
  local function widthOf(v)
    for w = 1, 6 do
      if v < LIMIT[w] then return w end
    end
    return 6
  end
  local function esc(s)
    return (string.gsub(s, '[^%w_%-]', function(c) return string.format('%%%02X', string.byte(c)) end))
  end
  local function unesc(s)
    return (string.gsub(s, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
  end
  local function list(sec, conv)
    local t = {}
    for item in string.gmatch(sec, '[^,.]+') do t[#t + 1] = conv(item) end
    return t
  end

  -- Layout text: "sw,c,t,d,x|outcomes|reasons|states|plugin:bin.bin;plugin:bin".
  local function parseLayout(text)
    local sec = {}
    for part in string.gmatch(text .. '|', '([^|]*)|') do sec[#sec + 1] = part end
    local w = list(sec[1], tonumber)
    local L = { sw = w[1], c = w[2], t = w[3], d = w[4], x = w[5], o = list(sec[2], unesc), r = list(sec[3], unesc), s = list(sec[4], unesc), p = {} }
    for item in string.gmatch(sec[5] or '', '[^;]+') do
      local name, bins = string.match(item, '^([^:]*):(.*)$')
      L.p[#L.p + 1] = { name = unesc(name), bins = list(bins, tonumber) }
    end
    -- Columns after the stamp, in cell order: key -> { offset in the cell, width }.
    L.cols, L.at, L.w = {}, {}, L.sw
    local function col(k, w)
      L.cols[#L.cols + 1] = { k, w }
      L.at[k] = { L.w, w }
      L.w = L.w + w
    end
    for _, sec in ipairs({ { 'o', L.o, L.c }, { 'r', L.r, L.c }, { 's', L.s, L.t } }) do
      for _, name in ipairs(sec[2]) do col(sec[1] .. '\n' .. name, sec[3]) end
    end
    for _, pl in ipairs(L.p) do
      col('p\n' .. pl.name .. '\ns', L.d)
      col('p\n' .. pl.name .. '\nx', L.x)
      for _, bn in ipairs(pl.bins) do col('p\n' .. pl.name .. '\nb' .. bn, L.c) end
    end
    return L
  end
  local function layoutText(L)
    local function join(t, sep, conv)
      local out = {}
      for i, v in ipairs(t) do out[i] = conv(v) end
      return table.concat(out, sep)
    end
    local plugins = {}
    for i, pl in ipairs(L.p) do plugins[i] = esc(pl.name) .. ':' .. join(pl.bins, '.', tostring) end
    return table.concat({ L.sw, L.c, L.t, L.d, L.x }, ',') .. '|' .. join(L.o, ',', esc) .. '|' .. join(L.r, ',', esc) .. '|' .. join(L.s, ',', esc) .. '|' .. table.concat(plugins, ';')
  end

  local function decodeCell(L, cs)
    local pos = 1
    local function take(w)
      local v = getu(cs, pos, w)
      pos = pos + w
      return v
    end
    local b = { stamp = take(L.sw), o = {}, r = {}, t = {}, p = {} }
    for _, sec in ipairs({ { L.o, b.o, L.c }, { L.r, b.r, L.c }, { L.s, b.t, L.t } }) do
      for _, name in ipairs(sec[1]) do
        local v = take(sec[3])
        if v > 0 then sec[2][name] = v end
      end
    end
    for _, pl in ipairs(L.p) do
      local p = { s = take(L.d), x = take(L.x), h = {} }
      local any = p.s > 0 or p.x > 0
      for _, bn in ipairs(pl.bins) do
        local v = take(L.c)
        if v > 0 then p.h[bn] = v; any = true end
      end
      if any then b.p[pl.name] = p end
    end
    return b
  end
  -- The cell as bytes, or nil when the layout lacks a column or a width for it.
  local function encodeCell(L, b)
    local out = { putu(b.bucket % LIMIT[L.sw], L.sw) }
    local function column(names, vals, w)
      local missing = 0
      for _, v in pairs(vals) do
        if v > 0 then missing = missing + 1 end
      end
      for _, name in ipairs(names) do
        local v = vals[name] or 0
        if v >= LIMIT[w] then return false end
        if v > 0 then missing = missing - 1 end
        out[#out + 1] = putu(v, w)
      end
      return missing == 0
    end
    if not (column(L.o, b.o, L.c) and column(L.r, b.r, L.c) and column(L.s, b.t, L.t)) then return nil end
    local missing = 0
    for _ in pairs(b.p) do missing = missing + 1 end
    for _, pl in ipairs(L.p) do
      local p = b.p[pl.name]
      if p then missing = missing - 1 else p = { s = 0, x = 0, h = {} } end
      if p.s >= LIMIT[L.d] or p.x >= LIMIT[L.x] then return nil end
      out[#out + 1] = putu(p.s, L.d) .. putu(p.x, L.x)
      if not column(pl.bins, p.h, L.c) then return nil end
    end
    if missing ~= 0 then return nil end
    return table.concat(out)
  end
  -- The layout L (nil: none yet) extended to hold cell b in a ring cap cells long: columns
  -- are added and widened, never dropped, while the ring lives.
  local function widen(L, b, cap)
    L = L or { sw = 1, c = 1, t = 1, d = 1, x = 1, o = {}, r = {}, s = {}, p = {} }
    local function union(names, vals)
      local set, out = {}, {}
      for _, k in ipairs(names) do set[k] = true end
      for k, v in pairs(vals) do
        if v > 0 then set[k] = true end
      end
      for k in pairs(set) do out[#out + 1] = k end
      table.sort(out)
      return out
    end
    local function maxOf(vals)
      local m = 0
      for _, v in pairs(vals) do m = math.max(m, v) end
      return m
    end
    local N = { sw = math.max(L.sw, widthOf(cap - 1)), c = math.max(L.c, widthOf(math.max(maxOf(b.o), maxOf(b.r)))), t = math.max(L.t, widthOf(maxOf(b.t))), d = L.d, x = L.x,
      o = union(L.o, b.o), r = union(L.r, b.r), s = union(L.s, b.t), p = {} }
    local bins, plugins = {}, {}
    for _, pl in ipairs(L.p) do bins[pl.name] = pl.bins; plugins[pl.name] = 1 end
    for name, p in pairs(b.p) do
      plugins[name] = 1
      N.c = math.max(N.c, widthOf(maxOf(p.h)))
      N.d = math.max(N.d, widthOf(p.s))
      N.x = math.max(N.x, widthOf(p.x))
    end
    for _, name in ipairs(union({}, plugins)) do
      N.p[#N.p + 1] = { name = name, bins = union(bins[name] or {}, b.p[name] and b.p[name].h or {}) }
    end
    return parseLayout(layoutText(N))
  end
  -- Copies a cell of layout L out of raw (starting after byte off) as layout N, a superset of
  -- L: a plan of byte ranges and zero runs, with the stamp re-encoded only when it widens.
  -- Returns the copier and whether it is the identity.
  local function converter(L, N)
    local plan = {}
    local function copy(from, to)
      local last = plan[#plan]
      if type(last) == 'table' and last[2] + 1 == from then last[2] = to else plan[#plan + 1] = { from, to } end
    end
    if N.sw == L.sw then copy(1, L.sw) end
    for _, c in ipairs(N.cols) do
      local src = L.at[c[1]]
      local pad = c[2] - (src and src[2] or 0)
      if pad > 0 then plan[#plan + 1] = string.rep('\0', pad) end
      if src then copy(src[1] + 1, src[1] + src[2]) end
    end
    local identity = #plan == 1 and type(plan[1]) == 'table' and plan[1][2] == N.w
    return function(raw, off, bucket)
      local out = {}
      if N.sw ~= L.sw then out[1] = putu(bucket % LIMIT[N.sw], N.sw) end
      for _, step in ipairs(plan) do
        out[#out + 1] = type(step) == 'table' and string.sub(raw, off + step[1], off + step[2]) or step
      end
      return table.concat(out)
    end, identity
  end

  local function prefix(cap, K, n, start, head, textLen)
    return 'W\1' .. putu(cap, 4) .. putu(K, 4) .. putu(n, 4) .. putu(start, 4) .. putu(head, 4) .. putu(textLen, 2)
  end
  local function readRing(key)
    local raw = redis.call('GETRANGE', key, 0, 511)
    if #raw < PREFIX or string.sub(raw, 1, 2) ~= 'W\1' then return nil end
    local R = { cap = getu(raw, 3, 4), K = getu(raw, 7, 4), n = getu(raw, 11, 4), start = getu(raw, 15, 4), head = getu(raw, 19, 4) }
    local textLen = getu(raw, 23, 2)
    if PREFIX + textLen > #raw then raw = redis.call('GETRANGE', key, 0, PREFIX + textLen - 1) end
    R.L = parseLayout(string.sub(raw, PREFIX + 1, PREFIX + textLen))
    R.base = PREFIX + textLen
    return R
  end
  local function offsetOf(R, i)
    return R.base + ((R.start + i) % R.K) * R.L.w
  end
  local function bucketAt(R, i)
    local stamp = getu(redis.call('GETRANGE', R.key, offsetOf(R, i), offsetOf(R, i) + R.L.sw - 1), 1, R.L.sw)
    return R.head - (R.head - stamp) % LIMIT[R.L.sw]
  end
  local function cellOf(R, cs)
    local b = decodeCell(R.L, cs)
    b.bucket = R.head - (R.head - b.stamp) % LIMIT[R.L.sw]
    return b
  end
  local function writeCell(R, i, b)
    local bytes = encodeCell(R.L, b)
    if not bytes then return false end
    redis.call('SETRANGE', R.key, offsetOf(R, i), bytes)
    return true
  end
  -- Writes the ring: n cells of layout L (bytes, oldest first); grows it when they fill it.
  local function rebuild(key, L, bytes, n, head, cap, K, ttl)
    local text = layoutText(L)
    -- Never more cells than the retention holds (it may have been shortened since the ring grew).
    K = math.min(K, cap)
    if n > K then K = math.min(cap, n + math.max(4, math.ceil(n / 8))) end
    redis.call('SET', key, prefix(cap, K, n, 0, head, #text) .. text .. bytes .. string.rep('\0', (K - n) * L.w))
    redis.call('EXPIRE', key, ttl)
  end
  local function newCell(bucket)
    return { bucket = bucket, o = {}, r = {}, t = {}, p = {} }
  end

  local durations = {}
  for name, ms in string.gmatch(A.durations, '([^=;]+)=([^;]+)') do
    local v = math.max(tonumber(ms) or 0, 0)
    durations[#durations + 1] = { name, math.min(math.floor(v * 1000 + 0.5), MAXV), bin(v) }
  end
  local spent, spentState = 0, from
  if a[9] then
    local dt = nowMs - tonumber(a[9])
    local cap = math.max(tonumber(a[10] or '60') * 2000, 120000)
    spent = math.min(dt, cap)
    if dt > cap then spent = dt; spentState = 'gap' end
    spent = math.floor(spent + 0.5)
  end
  local function apply(b)
    incr(b.o, outcome, 1)
    if reason ~= '' and outcome ~= 'ok' then incr(b.r, reason, 1) end
    for _, d in ipairs(durations) do
      local p = b.p[d[1]] or { s = 0, x = 0, h = {} }
      p.s = math.min(p.s + d[2], MAXV)
      if d[2] > p.x then p.x = d[2] end
      incr(p.h, d[3], 1)
      b.p[d[1]] = p
    end
    if spent > 0 then incr(b.t, spentState, spent) end
    return b
  end

  -- Any change the ring cannot take in place (a new name, a wider value, a full ring, a
  -- longer retention, an earlier bucket without a cell): the cells are copied into a wider
  -- layout by byte ranges (no decoding; whole runs when the layout stays), the changed one
  -- encoded anew.
  local function relayout(R, bucket, cap, ttl)
    local raw = redis.call('GET', R.key)
    local newest = math.max(bucket, R.head)
    local function bucketOf(i)
      return R.head - (R.head - getu(raw, offsetOf(R, i) + 1, R.L.sw)) % LIMIT[R.L.sw]
    end
    local first = 0
    while first < R.n and bucketOf(first) <= newest - cap do first = first + 1 end
    local lo, hi = first, R.n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if bucketOf(mid) < bucket then lo = mid + 1 else hi = mid end
    end
    local found = lo < R.n and bucketOf(lo) == bucket
    local cell = apply(found and cellOf(R, string.sub(raw, offsetOf(R, lo) + 1, offsetOf(R, lo) + R.L.w)) or newCell(bucket))
    local N = widen(R.L, cell, cap)
    local convert, identity = converter(R.L, N)
    local cells = {}
    local function copy(i, j) -- cells i .. j - 1, in order
      if identity then
        while i < j do
          local p = (R.start + i) % R.K
          local run = math.min(j - i, R.K - p)
          cells[#cells + 1] = string.sub(raw, R.base + p * R.L.w + 1, R.base + (p + run) * R.L.w)
          i = i + run
        end
      else
        for k = i, j - 1 do cells[#cells + 1] = convert(raw, offsetOf(R, k), N.sw ~= R.L.sw and bucketOf(k)) end
      end
    end
    copy(first, lo)
    cells[#cells + 1] = encodeCell(N, cell)
    copy(found and lo + 1 or lo, R.n)
    rebuild(R.key, N, table.concat(cells), R.n - first + (found and 0 or 1), newest, cap, R.K, ttl)
  end
  local function record(key, bucket, cap, ttl)
    local R = readRing(key)
    if not R then
      local cell = apply(newCell(bucket))
      local L = widen(nil, cell, cap)
      return rebuild(key, L, encodeCell(L, cell), 1, bucket, cap, 0, ttl)
    end
    R.key = key
    if bucket <= R.head - cap then return end -- older than the retention
    -- A wider stamp needed, or a retention shortened since the ring grew: lay it out again.
    if cap > LIMIT[R.L.sw] or R.K > cap then return relayout(R, bucket, cap, ttl) end
    if bucket > R.head then
      -- Cells leaving the retention make room; the new cell goes after the newest.
      while R.n > 0 and bucketAt(R, 0) <= bucket - cap do
        R.start = (R.start + 1) % R.K
        R.n = R.n - 1
      end
      if R.n < R.K and writeCell(R, R.n, apply(newCell(bucket))) then
        redis.call('SETRANGE', key, 2, putu(cap, 4) .. putu(R.K, 4) .. putu(R.n + 1, 4) .. putu(R.start, 4) .. putu(bucket, 4))
        redis.call('EXPIRE', key, ttl)
        return
      end
      return relayout(R, bucket, cap, ttl)
    end
    -- The newest bucket, or an earlier one (a late completion, clocks that disagree).
    local lo, hi = 0, R.n - 1
    if bucket == R.head then lo = hi end
    while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      if bucketAt(R, mid) <= bucket then lo = mid else hi = mid - 1 end
    end
    local off = offsetOf(R, lo)
    local b = cellOf(R, redis.call('GETRANGE', key, off, off + R.L.w - 1))
    if b.bucket == bucket and writeCell(R, lo, apply(b)) then return end
    relayout(R, bucket, cap, ttl)
  end

  local sizes = { 60, 3600, 86400 }
  for i = 1, 3 do
    local ttl = A.rollupSec[i]
    local bucket = math.floor(nowMs / 1000 / sizes[i])
    if bucket >= 0 then record(KEYS[6 + i], bucket, math.floor(ttl / sizes[i]) + 1, ttl) end
  end
end

-- Fleet statistics: checks per minute (two hours kept), failures per asset over two days.
local minute = tostring(math.floor(nowMs / 60000) * 60)
local checksKey = A.statsPrefix .. 'checks'
if redis.call('HINCRBY', checksKey, minute, 1) == 1 and redis.call('HLEN', checksKey) > 130 then
  for _, f in ipairs(redis.call('HKEYS', checksKey)) do
    if tonumber(f) < tonumber(minute) - 7200 then redis.call('HDEL', checksKey, f) end
  end
end
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

if #A.latest > 0 then
  redis.call('HSET', KEYS[4], unpack(A.latest))
end

-- Raw results (format in store/results-codec.ts): the new entry goes in full at the head; the
-- entry it displaces is rewritten as its difference from the new one.
local historyCap = A.historyMax
local atMs = tonumber(now)
local tokens = A.tokens
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
  local newer = {}
  for t in string.gmatch(tokens, '[^\31]+') do newer[#newer + 1] = t end
  local diff, i, run = {}, 0, 0
  for t in string.gmatch(string.sub(head, cut + 1), '[^\31]+') do
    i = i + 1
    if t == newer[i] then
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
redis.call('LPUSH', KEYS[5], id .. '\29' .. outcome .. '\29' .. jobId .. '\30' .. tokens)
redis.call('LTRIM', KEYS[5], 0, historyCap - 1)
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
