--[[
  maintenance_create: store a maintenance window, within its owner's quota, and index it by the
  asset ids and tags it names (so that the windows covering one asset are found without reading
  every window).

  KEYS[1]   windows (hash: id -> JSON)
  KEYS[2]   window summaries (hash: id -> JSON without the asset ids)
  KEYS[3]   the owner's windows (sorted set: id -> createdAt)
  KEYS[4]   open windows (set)

  ARGV[1]   window id
  ARGV[2]   window JSON
  ARGV[3]   summary JSON
  ARGV[4]   createdAt, ms
  ARGV[5]   most windows the owner may have (-1: no limit)
  ARGV[6]   '1' when the window is open now
  ARGV[7]   by-asset set prefix (+ asset id)
  ARGV[8]   by-tag set prefix of the owner (+ tag)
  ARGV[9]   N, the number of asset ids; ARGV[10..9+N] asset ids; ARGV[10+N..] tags

  Returns { 1 }          stored
          { 0, count }   the owner already has `count` windows, the quota
]]
local limit = tonumber(ARGV[5])
if limit >= 0 then
  local count = redis.call('ZCARD', KEYS[3])
  if count >= limit then
    return { 0, count }
  end
end
local id = ARGV[1]
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], id)
local n = tonumber(ARGV[9])
for i = 10, 9 + n do
  redis.call('SADD', ARGV[7] .. ARGV[i], id)
end
for i = 10 + n, #ARGV do
  redis.call('SADD', ARGV[8] .. ARGV[i], id)
end
if ARGV[6] == '1' then
  redis.call('SADD', KEYS[4], id)
end
return { 1 }
