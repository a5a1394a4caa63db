--[[
  Roll-ups for job_complete.lua: recordRollups(keys, nowMs, check, secs) records a check in the
  asset's rings (format in packages/core/src/rollup.ts).

  keys: the minute, hour and day rings. secs: their retentions, seconds. seq: the asset's seq.
  check: { outcome, reason, durations = { plugin, sum us, latency bin, plugin, ... },
           spent (ms in a state since the previous check), spentState,
           spentCap (the most `spent` can be before it counts as a gap), interval (the asset's,
           seconds; nil: 60) }.

  One ring per check. A check is written to the minute ring only; the hour and day rings are
  folded from the next finer ring once their period has closed: the hour's minute cells summed
  into an hour cell, the day's hour cells into a day cell. So:
  - a coarse ring holds every check of the periods up to its newest cell (its head);
  - the periods after it (the hour and day in progress) are in the finer rings alone: readers
    add finer cells after a coarse ring's head (StatsStore.buckets);
  - a late check of a period that has closed is recorded in the coarse ring directly as well.

  When: hours before hour h close at the asset's fold point of hour h, `spread` minutes into it
  (spread = the asset's seq mod SPREAD), and days before day d at the fold point of its first
  hour. The first check at or after a fold point folds. Fold points are spread over the whole
  hour so that a fleet folds at the same rate in every minute, never all its hours at once.
  A finer ring must hold a whole period and the spread: minute retention of two hours or more,
  hour retention of a day or more. With shorter retentions every check is written to all three
  rings, as before folding existed.

  The minute ring's version byte says which: 2 when the coarse rings are folded, 1 when every
  check is written to all three (rings written before folding existed, or short retentions).
  Switching from 1 to 2 drops the coarse rings' cells of the periods not closed yet (the minute
  ring and the hour ring hold them); from 2 to 1 folds them first.

  While the coarse rings are folded, the minute ring lives as long as the hour ring and the hour
  ring as long as the day ring (from their last write): the period in progress of an asset no
  longer checked is kept until its coarse ring would have expired.

  The usual check fits the minute ring's layout and widths and patches one cell in place: a
  column's offset is arithmetic on the ring's widths and the positions of names in the layout
  text. Anything else takes the general path (rollup_ring.lua), which writes the same bytes.
]]
--- @include "rollup_ring"

local SIZES = { 60, 3600, 86400 }
-- Fold points of a fleet's assets are spread over this many minutes after each hour.
local SPREAD = 60
-- Cells up to this wide are patched as one byte list (string.byte/char of a whole cell must
-- stay within Lua's C stack); wider ones take the general path.
local FAST_WIDTH = 4000
local floor, min, max = math.floor, math.min, math.max

local general, generalCap -- the general path, made on first use (for the check's spentCap)
local spentCap = 0
local function slow()
  if not general or generalCap ~= spentCap then general, generalCap = ringGeneral(spentCap), spentCap end
  return general
end

-- The check as changes to cell columns (the list rollup_ring.lua describes).
local function checkChanges(check)
  local changes = { { 'o', esc(check.outcome), '', 1, false, check.outcome } }
  if check.reason ~= '' and check.outcome ~= 'ok' then changes[#changes + 1] = { 'r', esc(check.reason), '', 1, false, check.reason } end
  if check.spent > 0 then changes[#changes + 1] = { 's', esc(check.spentState), '', check.spent, false, check.spentState } end
  local D = check.durations
  for i = 1, #D, 3 do
    local name = esc(D[i])
    changes[#changes + 1] = { 'ps', name, '', D[i + 1], false, D[i] }
    changes[#changes + 1] = { 'px', name, '', D[i + 1], true, D[i] }
    changes[#changes + 1] = { 'pb', name, tostring(D[i + 2]), 1, false, D[i], D[i + 2] }
  end
  return changes
end

-- Where each change's column sits in layouts whose names part (the text after the widths)
-- is `names`: { nc, nt, nd, nx, width } per change, the column's offset after the stamp
-- being nc * c + nt * t + nd * d + nx * x and its width the layout's c, t, d or x (1-4);
-- plus `cell`, the same counts for the whole cell. False when a column is missing.
local function columnsIn(names, changes)
  local osec, rsec, ssec, psec = string.match(names, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not osec then return false end
  local function index(sec)
    local at, n = {}, 0
    for name in string.gmatch(sec, '[^,.]+') do at[name], n = n, n + 1 end
    return at, n
  end
  local o, no = index(osec)
  local r, nr = index(rsec)
  local s, ns = index(ssec)
  local plugins, nb, np = {}, 0, 0
  for name, bins in string.gmatch(psec, '([^;:]*):([^;]*)') do
    local at, n = index(bins)
    plugins[name] = { no + nr + nb, np, at } -- counts before its sum column, and its bins
    nb, np = nb + n, np + 1
  end
  local cols = { cell = { no + nr + nb, ns, np, np } }
  for i, ch in ipairs(changes) do
    local kind, name, p = ch[1], ch[2], plugins[ch[2]]
    local k = p and p[3][ch[3]]
    if kind == 'o' then cols[i] = o[name] and { o[name], 0, 0, 0, 1 }
    elseif kind == 'r' then cols[i] = r[name] and { no + r[name], 0, 0, 0, 1 }
    elseif kind == 's' then cols[i] = s[name] and { no + nr, s[name], 0, 0, 2 }
    elseif kind == 'ps' then cols[i] = p and { p[1], ns, p[2], p[2], 3 }
    elseif kind == 'px' then cols[i] = p and { p[1], ns, p[2] + 1, p[2], 4 }
    else cols[i] = k and { p[1] + k, ns, p[2] + 1, p[2] + 1, 1 } end
    if not cols[i] then return false end
  end
  return cols
end

-- The cell bytes cs with `changes` applied (W: the widths c, t, d, x), or nil when a value
-- outgrows its column. Same bytes as the general path's decode, apply and encode.
local function patched(cs, cols, sw, W, changes)
  local b = { string.byte(cs, 1, #cs) }
  local c, t, d, x = W[1], W[2], W[3], W[4]
  for i = 1, #cols do
    local col, ch = cols[i], changes[i]
    local w = W[col[5]]
    local off = sw + col[1] * c + col[2] * t + col[3] * d + col[4] * x
    local v = 0
    for k = off + 1, off + w do v = v * 256 + b[k] end
    if ch[5] then v = max(v, ch[4]) else v = min(v + ch[4], MAXV) end
    if v >= LIMIT[w] then return nil end
    for k = off + w, off + 1, -1 do
      b[k] = v % 256
      v = floor(v / 256)
    end
  end
  return string.char(unpack(b))
end

-- The ring at key as R (see rollup_ring.lua, without sw and w) with its retention cap, or nil
-- when there is none. A header and a layout text of up to 104 bytes in one read; a longer text
-- is read again.
local function readRing(key)
  local raw = redis.call('GETRANGE', key, 0, 127)
  if #raw < PREFIX or string.byte(raw, 1) ~= 87 or (string.byte(raw, 2) ~= 1 and string.byte(raw, 2) ~= 2) then return nil end
  local cap, K, n, start, head, len = struct.unpack('>I4I4I4I4I4I2', raw, 3)
  if PREFIX + len > #raw then raw = redis.call('GETRANGE', key, 0, PREFIX + len - 1) end
  return { key = key, ver = string.byte(raw, 2), cap = cap, K = K, n = n, start = start, head = head, text = string.sub(raw, PREFIX + 1, PREFIX + len), base = PREFIX + len }
end

-- What columnsIn depends on: the changes' kinds, names and bins (not their values).
local function signature(changes)
  if not changes.sig then
    local parts = {}
    for i, ch in ipairs(changes) do parts[i] = ch[1] .. '\0' .. ch[2] .. '\0' .. ch[3] end
    changes.sig = table.concat(parts, '\1')
  end
  return changes.sig
end

local columnsOf = {} -- signature(changes) -> names part -> columnsIn(names part, changes)
-- Records changes in bucket of the ring at key (R: the ring as readRing read it, false when there
-- is none, nil to read it here); a new ring gets version ver.
local function record(key, R, ver, bucket, cap, ttl, changes, pace)
  if R == nil then R = readRing(key) end
  if not R then return slow().create(key, ver, bucket, cap, ttl, changes, pace) end
  if bucket <= R.head - cap then return end -- older than the retention
  local K, head = R.K, R.head
  -- Widths are single digits (1-6): "sw,c,t,d,x|".
  local sw, _, c, _, t, _, d, _, x, bar = string.byte(R.text, 1, 10)
  local names = bar == 124 and string.sub(R.text, 11)
  local sig = signature(changes)
  columnsOf[sig] = columnsOf[sig] or {}
  local cols = names and columnsOf[sig][names]
  if names and cols == nil then
    cols = columnsIn(names, changes)
    columnsOf[sig][names] = cols
  end
  if not cols then return slow().relayout(R, bucket, cap, ttl, changes, pace) end
  local W = { c - 48, t - 48, d - 48, x - 48 }
  R.sw = sw - 48
  R.w = R.sw + cols.cell[1] * W[1] + cols.cell[2] * W[2] + cols.cell[3] * W[3] + cols.cell[4] * W[4]
  -- A wider stamp needed, a retention shortened since the ring grew, a very wide cell.
  if cap > LIMIT[R.sw] or K > cap or R.w > FAST_WIDTH then return slow().relayout(R, bucket, cap, ttl, changes, pace) end
  if bucket > head then
    -- Cells leaving the retention make room; the new cell goes after the newest.
    while R.n > 0 and bucketAt(R, 0) <= bucket - cap do
      R.start = (R.start + 1) % K
      R.n = R.n - 1
    end
    local bytes = R.n < K and patched(putu(bucket % LIMIT[R.sw], R.sw) .. string.rep('\0', R.w - R.sw), cols, R.sw, W, changes)
    if not bytes then return slow().relayout(R, bucket, cap, ttl, changes, pace) end
    redis.call('SETRANGE', key, offsetOf(R, R.n), bytes)
    redis.call('SETRANGE', key, 2, struct.pack('>I4I4I4I4I4', cap, K, R.n + 1, R.start, bucket))
    redis.call('EXPIRE', key, ttl)
    return
  end
  -- The newest bucket, or an earlier one (a late completion, clocks that disagree).
  local lo, hi = 0, R.n - 1
  if bucket == head then lo = hi end
  while lo < hi do
    local mid = floor((lo + hi + 1) / 2)
    if bucketAt(R, mid) <= bucket then lo = mid else hi = mid - 1 end
  end
  local off = offsetOf(R, lo)
  local cs = redis.call('GETRANGE', key, off, off + R.w - 1)
  local bytes = head - (head - getu(cs, 1, R.sw)) % LIMIT[R.sw] == bucket and patched(cs, cols, R.sw, W, changes)
  if not bytes then return slow().relayout(R, bucket, cap, ttl, changes, pace) end
  redis.call('SETRANGE', key, off, bytes)
end

-- The columns of a layout text in cell order, { kind, escaped name, bin (text), width, plugin
-- number }, with the stamp width, the cell width, a struct format that reads the stamp and every
-- column but one-byte latency bins, the columns it reads (`dense`), and the runs of one-byte bins
-- ({ offset in the cell, first column }: a finer cell has one or two bins of a plugin set, so
-- they are found by searching for non-zero bytes).
local function layoutColumns(text)
  local sw, c, t, d, x = string.match(text, '^(%d),(%d),(%d),(%d),(%d)|')
  local osec, rsec, ssec, psec = string.match(text, '^[^|]*|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  local kinds, fmt, dense, runs, w = {}, { '>I' .. sw }, {}, {}, tonumber(sw)
  local function col(kind, name, bin, width, plugin)
    kinds[#kinds + 1] = { kind, name, bin, width, plugin }
    if kind == 'pb' and width == '1' then
      fmt[#fmt + 1] = 'x'
      local run = runs[#runs]
      if not (run and run[3] == #kinds - 1) then runs[#runs + 1] = { w, #kinds, #kinds } else run[3] = #kinds end
    else
      fmt[#fmt + 1] = 'I' .. width
      dense[#dense + 1] = #kinds
    end
    w = w + tonumber(width)
  end
  for _, sec in ipairs({ { 'o', osec, c }, { 'r', rsec, c }, { 's', ssec, t } }) do
    for name in string.gmatch(sec[2], '[^,]+') do col(sec[1], name, nil, sec[3]) end
  end
  local j = 0
  for name, bins in string.gmatch(psec, '([^;:]*):([^;]*)') do
    j = j + 1
    col('ps', name, nil, d, j)
    col('px', name, nil, x, j)
    for bn in string.gmatch(bins, '[^.]+') do col('pb', name, bn, c, j) end
  end
  return { kinds = kinds, sw = tonumber(sw), w = w, fmt = table.concat(fmt), dense = dense, runs = runs }
end

-- Folds the cells of the finer ring at fineKey (`ratio` of its buckets make one of the coarse
-- ring's) whose coarse bucket is after the coarse ring's head and before `upto` into the coarse
-- ring at coarseKey: one sum per coarse bucket, oldest first. Only the newest cells are read.
local function fold(fineKey, coarseKey, ratio, upto, cap, ttl)
  local F = readRing(fineKey)
  if not F or F.n == 0 then return end
  local LC = layoutColumns(F.text)
  local kinds, dense, runs = LC.kinds, LC.dense, LC.runs
  F.sw, F.w = LC.sw, LC.w
  local C = readRing(coarseKey)
  local after = C and C.head or -1
  -- Cells lo .. hi (oldest first) as one string: one read, or two where the ring wraps.
  local function cells(lo, hi)
    local a, count = (F.start + lo) % F.K, hi - lo + 1
    local first = min(count, F.K - a)
    local bytes = redis.call('GETRANGE', fineKey, F.base + a * F.w, F.base + (a + first) * F.w - 1)
    if first < count then bytes = bytes .. redis.call('GETRANGE', fineKey, F.base, F.base + (count - first) * F.w - 1) end
    return bytes
  end
  local sums, order = {}, {}
  local modulo, nk = LIMIT[F.sw], #kinds
  -- The newest cell before `upto` (cells of the period in progress are skipped by a binary search).
  local top = F.n - 1
  if top >= 0 and floor(bucketAt(F, top) / ratio) >= upto then
    local lo, hi = 0, top
    while lo < hi do
      local mid = floor((lo + hi) / 2)
      if floor(bucketAt(F, mid) / ratio) >= upto then hi = mid else lo = mid + 1 end
    end
    top = lo - 1
  end
  local raw, lo = '', top + 1
  for i = top, 0, -1 do
    if i < lo then
      -- The newest cells are read a period at a time.
      lo = max(0, i - ratio)
      raw = cells(lo, i)
    end
    local off = (i - lo) * F.w
    -- v[1] is the stamp, v[k + 1] column dense[k].
    local v = { struct.unpack(LC.fmt, raw, off + 1) }
    local cb = floor((F.head - (F.head - v[1]) % modulo) / ratio)
    if cb <= after then break end
    if cb < upto then
      local s = sums[cb]
      if not s then
        s = {}
        for j = 1, nk do s[j] = 0 end
        sums[cb] = s
        order[#order + 1] = cb
      end
      for k = 1, #dense do
        local j, x = dense[k], v[k + 1]
        if x > 0 then
          if kinds[j][1] == 'px' then
            if x > s[j] then s[j] = x end
          else
            s[j] = min(s[j] + x, MAXV)
          end
        end
      end
      for _, run in ipairs(runs) do
        local first, last = off + run[1] + 1, off + run[1] + run[3] - run[2] + 1
        local p = string.find(raw, '[^%z]', first)
        while p and p <= last do
          local j = run[2] + p - first
          s[j] = min(s[j] + string.byte(raw, p), MAXV)
          p = string.find(raw, '[^%z]', p + 1)
        end
      end
    end
  end
  for q = #order, 1, -1 do
    local s, changes, ran = sums[order[q]], {}, {}
    for j, k in ipairs(kinds) do
      if k[5] and s[j] > 0 then ran[k[5]] = true end
    end
    for j, k in ipairs(kinds) do
      -- A plugin that ran gets its sum and maximum columns, zero or not (as a check's would).
      if s[j] > 0 or (k[5] and ran[k[5]] and k[1] ~= 'pb') then
        changes[#changes + 1] = { k[1], k[2], k[3] or '', s[j], k[1] == 'px', unesc(k[2]), k[3] and tonumber(k[3]) }
      end
    end
    record(coarseKey, nil, 1, order[q], cap, ttl, changes)
  end
end

-- Drops the cells of the ring at key from bucket on (they are the finer rings' to hold now).
local function dropFrom(key, bucket)
  local R = readRing(key)
  if not R or R.head < bucket then return end
  local LC = layoutColumns(R.text)
  R.sw, R.w = LC.sw, LC.w
  local n = R.n
  while n > 0 and bucketAt(R, n - 1) >= bucket do n = n - 1 end
  if n == 0 then
    redis.call('DEL', key)
  else
    redis.call('SETRANGE', key, 2, struct.pack('>I4I4I4I4I4', R.cap, R.K, n, R.start, bucketAt(R, n - 1)))
  end
end

local function recordRollups(keys, nowMs, check, secs, seq)
  local b, caps = {}, {}
  for i = 1, 3 do
    b[i] = floor(nowMs / 1000 / SIZES[i])
    caps[i] = floor(secs[i] / SIZES[i]) + 1
  end
  if b[1] < 0 then return end
  spentCap = check.spentCap
  local changes = checkChanges(check)
  -- Rings written at every check get room for the next ones (rollup_ring.lua, `pace`); the
  -- minute ring grows no further than the cells its retention holds at one check per interval
  -- (and a few to spare) until more checks come (pushed ones). Folds and late checks of a closed
  -- period write without it.
  local minutePace = { most = floor((caps[1] - 1) * SIZES[1] / max(check.interval or SIZES[1], SIZES[1])) + 3 }
  local everyCheck = {}
  local M = readRing(keys[1])
  -- Folding needs a minute ring that holds an hour and the spread, an hour ring that holds a day.
  if caps[1] <= 60 + SPREAD or caps[2] <= 24 then
    if M and M.ver == 2 then
      fold(keys[1], keys[2], 60, math.huge, caps[2], max(secs[2], secs[3]))
      fold(keys[2], keys[3], 24, math.huge, caps[3], secs[3])
      redis.call('SETRANGE', keys[1], 1, '\1')
      M.ver = 1
    end
    record(keys[1], M or false, 1, b[1], caps[1], secs[1], changes, minutePace)
    record(keys[2], nil, 1, b[2], caps[2], secs[2], changes, everyCheck)
    record(keys[3], nil, 1, b[3], caps[3], secs[3], changes, everyCheck)
    return
  end
  if M then
    -- Hours before closed(x) had closed by minute x (days before floor(closed(x) / 24)).
    local spread = (tonumber(seq) or 0) % SPREAD
    local function closed(x)
      return floor((x - spread) / 60)
    end
    local hours, days = closed(M.head), floor(closed(M.head) / 24)
    if M.ver ~= 2 then
      dropFrom(keys[2], hours)
      dropFrom(keys[3], days)
      redis.call('SETRANGE', keys[1], 1, '\2')
      M.ver = 2
    end
    local nowHours = closed(b[1])
    if nowHours > hours then
      fold(keys[1], keys[2], 60, nowHours, caps[2], max(secs[2], secs[3]))
      if floor(nowHours / 24) > days then fold(keys[2], keys[3], 24, floor(nowHours / 24), caps[3], secs[3]) end
    elseif b[2] < hours then
      record(keys[2], nil, 1, b[2], caps[2], max(secs[2], secs[3]), changes)
      if b[3] < days then record(keys[3], nil, 1, b[3], caps[3], secs[3], changes) end
    end
  end
  record(keys[1], M or false, 2, b[1], caps[1], max(secs[1], secs[2]), changes, minutePace)
end
