--[[
  asset_list: one page of asset ids, in creation order, that are in every filter index and
  either in every search index or in the `long` set, optionally only those whose URL contains a
  substring. Scans at most ARGV[4] candidates so one call stays short; a page may then hold
  fewer than `limit` ids with a cursor to continue from.

  Candidates come from two streams merged by sequence: the smallest of the filter and search
  indexes (membership in every other filter and in the three smallest other search indexes is
  checked), and, when given, the `long` set (assets whose URL is longer than the search indexes
  cover; only the filters are checked). The URL itself is always compared, so a search index
  only narrows the scan: it never decides a match.

  KEYS[1..F]        filter indexes (all assets of an owner, state, plugin, tag), F >= 1
  KEYS[F+1..F+S]    search indexes (trigrams of the needle), S >= 0
  KEYS[F+S+1]       the `long` set, when ARGV[8] is '1'
  All are sorted sets scored by asset sequence.

  ARGV[1]   cursor: the last sequence already returned (0 to start)
  ARGV[2]   limit
  ARGV[3]   substring the lowercased URL must contain ('' for any)
  ARGV[4]   most candidates to scan in this call
  ARGV[5]   asset hash key prefix (assetPrefix in keys.ts)
  ARGV[6]   F
  ARGV[7]   S
  ARGV[8]   '1' when the last key is the `long` set

  ARGV[9]   '1' to return each id with its sequence (a reader merging shards orders by it)

  Returns { nextCursor, id, id, … }   nextCursor is '' when the listing is complete
          { nextCursor, id, seq, … }  with ARGV[9] = '1'
]]
local cursor = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local needle = ARGV[3]
local budget = tonumber(ARGV[4])
local nFilter = tonumber(ARGV[6])
local nRequired = nFilter + tonumber(ARGV[7])
local hasLong = ARGV[8] == '1'
local withSeq = ARGV[9] == '1'

local function inAll(id, keys)
  for _, key in ipairs(keys) do
    if not redis.call('ZSCORE', key, id) then return false end
  end
  return true
end

-- Drive the main stream from the smallest required index. Every filter is checked; of the
-- search indexes only the smallest few (they only narrow: the URL is compared anyway, and a
-- set holding most assets would cost a lookup per candidate and exclude nothing).
local sizes = {}
for i = 1, nRequired do sizes[i] = { i = i, n = redis.call('ZCARD', KEYS[i]) } end
table.sort(sizes, function(a, b) return a.n < b.n end)
local driver = sizes[1].i
local mainChecks, searchChecked = {}, 0
for _, s in ipairs(sizes) do
  if s.i ~= driver then
    if s.i <= nFilter then
      mainChecks[#mainChecks + 1] = KEYS[s.i]
    elseif searchChecked < 3 then
      mainChecks[#mainChecks + 1] = KEYS[s.i]
      searchChecked = searchChecked + 1
    end
  end
end
local filterChecks = {}
for i = 1, nFilter do filterChecks[i] = KEYS[i] end
local streams = { { key = KEYS[driver], checks = mainChecks } }
if hasLong then
  streams[2] = { key = KEYS[nRequired + 1], checks = filterChecks }
end

-- Merges the rows of stream `si` (flat id, score pairs) into parallel arrays ordered by seq.
local function merge(ids, seqs, from, r, si)
  local mi, ms, mf = {}, {}, {}
  local i, j = 1, 1
  while i <= #ids or j <= #r do
    local n = #mi + 1
    if j > #r or (i <= #ids and seqs[i] <= tonumber(r[j + 1])) then
      mi[n], ms[n], mf[n] = ids[i], seqs[i], from[i]
      i = i + 1
    else
      mi[n], ms[n], mf[n] = r[j], tonumber(r[j + 1]), si
      j = j + 2
    end
  end
  return mi, ms, mf
end

local function more()
  for _, s in ipairs(streams) do
    if #redis.call('ZRANGEBYSCORE', s.key, '(' .. cursor, '+inf', 'LIMIT', 0, 1) > 0 then return true end
  end
  return false
end

local out = { '' }
local found = 0
local scanned = 0
local chunk = math.max(limit * 2, 100)
while true do
  -- Rows of every stream after the cursor; only those up to the lowest last score of a full
  -- chunk are certain to be in order with the other streams. `from` names a row's stream
  -- (nil: the main one).
  local ids, seqs, from, horizon = {}, {}, {}, math.huge
  for si, s in ipairs(streams) do
    local r = redis.call('ZRANGEBYSCORE', s.key, '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk)
    if #r == chunk * 2 then horizon = math.min(horizon, tonumber(r[#r])) end
    if si == 1 then
      for i = 1, #r, 2 do
        ids[#ids + 1] = r[i]
        seqs[#seqs + 1] = tonumber(r[i + 1])
      end
    elseif #r > 0 then
      ids, seqs, from = merge(ids, seqs, from, r, si)
    end
  end
  if #ids == 0 then return out end
  local i = 1
  while i <= #ids and seqs[i] <= horizon do
    local id, seq = ids[i], seqs[i]
    local keep = inAll(id, streams[from[i] or 1].checks)
    -- The same asset from both streams: kept when either stream keeps it.
    while i < #ids and seqs[i + 1] == seq do
      i = i + 1
      keep = keep or inAll(id, streams[from[i] or 1].checks)
    end
    cursor = seq
    scanned = scanned + 1
    if keep and needle ~= '' then
      local url = redis.call('HGET', ARGV[5] .. id, 'url')
      keep = url ~= false and string.find(string.lower(url), needle, 1, true) ~= nil
    end
    if keep then
      out[#out + 1] = id
      if withSeq then out[#out + 1] = seq end
      found = found + 1
      if found >= limit then
        if more() then out[1] = tostring(cursor) end
        return out
      end
    end
    if scanned >= budget then
      out[1] = tostring(cursor)
      return out
    end
    i = i + 1
  end
  if horizon == math.huge then return out end
end
