--[[
  maintenance_delete: remove a maintenance window and its index entries.

  KEYS[1]   windows (hash: id -> JSON)
  KEYS[2]   window summaries (hash)
  KEYS[3]   the owner's windows (sorted set)
  KEYS[4]   open windows (set)

  ARGV[1]   window id
  ARGV[2]   by-asset set prefix (+ asset id)
  ARGV[3]   by-tag set prefix of the owner (+ tag)
  ARGV[4]   N, the number of asset ids; ARGV[5..4+N] asset ids; ARGV[5+N..] tags

  Returns 2 removed (it was marked open: its assets need maintenance_apply), 1 removed,
          0 no such window
]]
local id = ARGV[1]
if redis.call('HDEL', KEYS[1], id) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
local wasOpen = redis.call('SREM', KEYS[4], id)
local n = tonumber(ARGV[4])
for i = 5, 4 + n do
  redis.call('SREM', ARGV[2] .. ARGV[i], id)
end
for i = 5 + n, #ARGV do
  redis.call('SREM', ARGV[3] .. ARGV[i], id)
end
return 1 + wasOpen
