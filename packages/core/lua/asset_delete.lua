--[[
  asset_delete: remove an asset, guarded by its revision, with its latest results, raw results,
  roll-ups, events stream, plugin storage, schedule entry and index entries.

  KEYS[1]   asset hash
  KEYS[2]   owner URL hash
  KEYS[3]   latest-results hash
  KEYS[4]   raw results (list; store/results-codec.ts)
  KEYS[5]   set naming the asset's plugin-storage keys (each is deleted too)
  KEYS[6]   schedule (sorted set)
  KEYS[7..10] roll-ups per minute, hour, day, and the asset's events stream
  KEYS[11..] every index the asset is in (all assets, state, plugins, tags; owner and fleet)

  ARGV[1]   expected rev
  ARGV[2]   normalised url

  Returns  1   deleted
           0   no such asset
          -1   revision changed since it was read: re-read and retry
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then
  return -1
end
local id = redis.call('HGET', KEYS[1], 'id')
if redis.call('HGET', KEYS[2], ARGV[2]) == id then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
redis.call('ZREM', KEYS[6], id)
redis.call('DEL', KEYS[7], KEYS[8], KEYS[9], KEYS[10])
for i = 11, #KEYS do
  redis.call('ZREM', KEYS[i], id)
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('DEL', key)
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
return 1
