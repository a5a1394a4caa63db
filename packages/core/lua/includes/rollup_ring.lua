--[[
  Roll-up rings (the format is documented in packages/core/src/rollup.ts), for job_complete.lua:
  the byte helpers both of its paths share, and the general path, ringGeneral(spentCap), which
  creates a ring or lays it out again. Its helpers are made only when it is first called: a
  check that fits its rings in place (the usual case) never pays for them.

  A ring R here: { key, ver (format version byte), K, n, start, head, text (layout text), base
  (offset of the first cell), sw, w (stamp and cell widths; the general path sets them from the
  text) }.
  changes: what to add to a cell, a list of { section ('o' outcome, 'r' reason, 's' time in
  state, 'ps' plugin duration sum, 'px' plugin duration maximum, 'pb' plugin latency bin),
  escaped name, latency bin as text ('' but for 'pb'), amount, keep the larger value instead
  of adding (true for 'px'), name, latency bin as a number }: a check's (rollups.lua,
  checkChanges) or a whole finer period's (rollups.lua, fold).
  spentCap: the most time in state one check adds (time-in-state columns are made that wide).
  pace: nil for a ring written once a period (a fold, a late check of a closed period); for a
  ring written at every check, { most = the cells it grows to at its asset's pace, or nil }: such
  a ring is laid out with room for the next checks (widen).
]]
local LIMIT = { 256, 65536, 16777216, 4294967296, 1099511627776, 281474976710656 }
local MAXV = LIMIT[6] - 1
local PREFIX = 24
-- The last latency bin (the open one): LATENCY_EDGES_MS.length in rollup.ts (a test holds them equal).
local TOP_BIN = 28
-- Bytes of a duration column (sum or maximum, µs) from the start: 3 hold 16.7 s, more than the
-- default check timeout (checks.timeoutMs, 10 s).
local DURATION_WIDTH = 3

local function getu(s, pos, w)
  local v = 0
  for i = pos, pos + w - 1 do v = v * 256 + string.byte(s, i) end
  return v
end
local function putu(v, w)
  local t = {}
  for i = w, 1, -1 do
    t[i] = v % 256
    v = math.floor(v / 256)
  end
  return string.char(unpack(t))
end
-- A name as layout texts write it: bytes outside [A-Za-z0-9_-] as %XX.
local function esc(s)
  if not string.find(s, '[^%w_%-]') then return s end
  return (string.gsub(s, '[^%w_%-]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
local function unesc(s)
  if not string.find(s, '%', 1, true) then return s end
  return (string.gsub(s, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
end
local function offsetOf(R, i)
  return R.base + ((R.start + i) % R.K) * R.w
end
local function bucketAt(R, i)
  local stamp = getu(redis.call('GETRANGE', R.key, offsetOf(R, i), offsetOf(R, i) + R.sw - 1), 1, R.sw)
  return R.head - (R.head - stamp) % LIMIT[R.sw]
end
local function prefix(ver, cap, K, n, start, head, textLen)
  return 'W' .. string.char(ver) .. struct.pack('>I4I4I4I4I4I2', cap, K, n, start, head, textLen)
end

-- Returns { relayout = function(R, bucket, cap, ttl, changes): changes recorded in ring R however
-- they do not fit in place (a new name, a wider value, a full ring, a longer or shorter
-- retention, an earlier bucket without a cell); create = function(key, ver, bucket, cap, ttl,
-- changes): a new ring holding them }.
local function ringGeneral(spentCap)
  local function incr(t, k, by)
    t[k] = math.min((t[k] or 0) + by, MAXV)
  end
  local function widthOf(v)
    for w = 1, 6 do
      if v < LIMIT[w] then return w end
    end
    return 6
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
  -- are added and widened, never dropped, while the ring lives. With room (a ring written at
  -- every check, not one folded into once a period), with room for the usual next checks too.
  local function widen(L, b, cap, room)
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
    -- Time-in-state columns are as wide as one check's time can make them from the start: a
    -- check a few seconds late would otherwise widen them, re-laying out a ring of a day of cells
    -- (milliseconds of Redis per asset, for every asset at once when checks run late).
    -- With room, duration columns (µs) hold any one check's duration under the default timeout
    -- (DURATION_WIDTH) as well: a slow check, or a fleet slowing down together, fits in place.
    local dw = room and DURATION_WIDTH or 1
    local N = { sw = math.max(L.sw, widthOf(cap - 1)), c = math.max(L.c, widthOf(math.max(maxOf(b.o), maxOf(b.r)))), t = math.max(L.t, widthOf(maxOf(b.t)), widthOf(spentCap or 0)),
      d = math.max(L.d, dw), x = math.max(L.x, dw),
      o = union(L.o, b.o), r = union(L.r, b.r), s = union(L.s, b.t), p = {} }
    local bins, plugins = {}, {}
    for _, pl in ipairs(L.p) do bins[pl.name] = pl.bins; plugins[pl.name] = 1 end
    for name, p in pairs(b.p) do
      plugins[name] = 1
      N.c = math.max(N.c, widthOf(maxOf(p.h)))
      N.d = math.max(N.d, widthOf(p.s))
      N.x = math.max(N.x, widthOf(p.x))
    end
    -- With room, a plugin's bins are a run, from the fastest bin a run fell in to one above the
    -- slowest: a latency that wanders between neighbouring bins, or rises a step for a whole
    -- fleet at once, fits the layout in place instead of re-laying out every ring it touches.
    -- The bins of the layout already are such a run; a bin new to it extends it (and one above).
    -- Without room, a bin has a column once a run fell in it.
    local function run(have, used)
      if not room then return union(have, used) end
      local lo, hi = have[1], have[#have]
      local set = {}
      for _, bn in ipairs(have) do set[bn] = true end
      for bn, v in pairs(used) do
        if v > 0 and not set[bn] then
          lo, hi = math.min(lo or bn, bn), math.max(hi or bn, bn + 1)
        end
      end
      local out = {}
      if lo then
        for bn = math.max(0, lo), math.min(TOP_BIN, hi) do out[#out + 1] = bn end
      end
      return out
    end
    for _, name in ipairs(union({}, plugins)) do
      N.p[#N.p + 1] = { name = name, bins = run(bins[name] or {}, b.p[name] and b.p[name].h or {}) }
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

  local function cellOf(R, cs)
    local b = decodeCell(R.L, cs)
    b.bucket = R.head - (R.head - b.stamp) % LIMIT[R.L.sw]
    return b
  end
  -- Writes the ring: n cells of layout L (bytes, oldest first); grows it when they fill it.
  local function rebuild(key, ver, L, bytes, n, head, cap, K, ttl, pace)
    local text = layoutText(L)
    -- Never more cells than the retention holds (it may have been shortened since the ring grew).
    K = math.min(K, cap)
    -- A full ring grows by an eighth, up to `pace.most` (the cells it holds at its asset's pace)
    -- while it has no more than that: a ring of an asset checked every 5 minutes ends with 290 or
    -- so cells, not the ~320 growing by eighths would leave it.
    if n > K then
      K = n + math.max(4, math.ceil(n / 8))
      local most = pace and pace.most
      if most and n <= most then K = math.min(K, most) end
      K = math.min(cap, K)
    end
    redis.call('SET', key, prefix(ver, cap, K, n, 0, head, #text) .. text .. bytes .. string.rep('\0', (K - n) * L.w))
    redis.call('EXPIRE', key, ttl)
  end
  local function newCell(bucket)
    return { bucket = bucket, o = {}, r = {}, t = {}, p = {} }
  end

  local function apply(b, changes)
    for _, ch in ipairs(changes) do
      local kind, amount, name = ch[1], ch[4], ch[6]
      if kind == 'o' then incr(b.o, name, amount)
      elseif kind == 'r' then incr(b.r, name, amount)
      elseif kind == 's' then incr(b.t, name, amount)
      else
        local p = b.p[name] or { s = 0, x = 0, h = {} }
        b.p[name] = p
        if kind == 'ps' then p.s = math.min(p.s + amount, MAXV)
        elseif kind == 'px' then p.x = math.max(p.x, amount)
        else incr(p.h, ch[7], amount) end
      end
    end
    return b
  end

  -- Any change the ring cannot take in place (a new name, a wider value, a full ring, a
  -- longer retention, an earlier bucket without a cell): the cells are copied into a wider
  -- layout by byte ranges (no decoding; whole runs when the layout stays), the changed one
  -- encoded anew.
  local function relayout(R, bucket, cap, ttl, changes, pace)
    R.L = parseLayout(R.text)
    R.sw, R.w = R.L.sw, R.L.w
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
    local cell = apply(found and cellOf(R, string.sub(raw, offsetOf(R, lo) + 1, offsetOf(R, lo) + R.L.w)) or newCell(bucket), changes)
    local N = widen(R.L, cell, cap, pace ~= nil)
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
    rebuild(R.key, R.ver, N, table.concat(cells), R.n - first + (found and 0 or 1), newest, cap, R.K, ttl, pace)
  end

  local function create(key, ver, bucket, cap, ttl, changes, pace)
    local cell = apply(newCell(bucket), changes)
    local L = widen(nil, cell, cap, pace ~= nil)
    rebuild(key, ver, L, encodeCell(L, cell), 1, bucket, cap, 0, ttl, pace)
  end
  return { relayout = relayout, create = create }
end
