--[[
  asset_list: one page of asset ids that are in every given index, in creation order, optionally
  only those whose URL contains a substring. Scans at most ARGV[4] candidates so one call stays
  short; a page may then hold fewer than `limit` ids with a cursor to continue from.

  KEYS[1..n] sorted-set indexes, all scored by asset sequence (n >= 1)

  ARGV[1]   cursor: the last sequence already returned (0 to start)
  ARGV[2]   limit
  ARGV[3]   substring the URL must contain ('' for any)
  ARGV[4]   most candidates to scan in this call
  ARGV[5]   asset hash key prefix (assetPrefix in keys.ts)

  Returns { nextCursor, id, id, … }   nextCursor is '' when the listing is complete
]]
local cursor = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local needle = ARGV[3]
local budget = tonumber(ARGV[4])

-- Drive the scan from the smallest index; check membership in the others.
local driver = 1
local smallest = redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n < smallest then
    smallest = n
    driver = i
  end
end

local out = { '' }
local scanned = 0
local chunk = math.max(limit * 2, 100)
while true do
  local rows = redis.call('ZRANGEBYSCORE', KEYS[driver], '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk)
  if #rows == 0 then
    return out
  end
  for i = 1, #rows, 2 do
    local id = rows[i]
    cursor = tonumber(rows[i + 1])
    scanned = scanned + 1
    local keep = true
    for k = 1, #KEYS do
      if k ~= driver and not redis.call('ZSCORE', KEYS[k], id) then
        keep = false
        break
      end
    end
    if keep and needle ~= '' then
      local url = redis.call('HGET', ARGV[5] .. id, 'url')
      keep = url ~= false and string.find(string.lower(url), needle, 1, true) ~= nil
    end
    if keep then
      out[#out + 1] = id
      if #out - 1 >= limit then
        out[1] = tostring(cursor)
        -- Complete when nothing follows in the driver index.
        local more = redis.call('ZRANGEBYSCORE', KEYS[driver], '(' .. cursor, '+inf', 'LIMIT', 0, 1)
        if #more == 0 then out[1] = '' end
        return out
      end
    end
    if scanned >= budget then
      out[1] = tostring(cursor)
      return out
    end
  end
  if #rows < chunk * 2 then
    return out
  end
end
