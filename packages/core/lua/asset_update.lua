--[[
  asset_update: apply a validated change to an asset, guarded by its revision.

  KEYS[1]           asset hash
  KEYS[2]           owner URL hash
  KEYS[3]           schedule (sorted set: asset id -> next due time, ms)
  KEYS[4]           set naming the asset's plugin-storage keys (deleted when the url changes:
                    baselines of another page mean nothing)
  KEYS[5..4+R]      indexes the asset leaves (R = ARGV[4])
  KEYS[5+R..]       indexes the asset joins

  ARGV[1]   expected rev (as read before the change was computed)
  ARGV[2]   old normalised url
  ARGV[3]   new normalised url (equal to ARGV[2] when unchanged)
  ARGV[4]   R, the number of indexes left
  ARGV[5]   schedule change: '' none, '-' unschedule, or a due time (ms) to schedule at
  ARGV[6]   which URL entries of the owner URL hash are in KEYS[2], the asset's shard: two
            characters, old then new, '1' here ('11' with a single shard). An entry lives in the
            shard its owner and URL hash to (keys.ts shardFor); AssetStore.update keeps the
            entries of other shards around this call.
  ARGV[7..] field, value pairs to set (updatedAt, plugins, …)

  Returns { 1, newRev }     updated
          { 0 }             no such asset
          { -1, rev }       revision changed since it was read: re-read and retry
          { -2, otherId }   the owner already has another asset with the new url
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 0 }
end
local rev = redis.call('HGET', KEYS[1], 'rev')
if rev ~= ARGV[1] then
  return { -1, rev }
end
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[2] ~= ARGV[3] then
  local oldHere, newHere = string.sub(ARGV[6], 1, 1) == '1', string.sub(ARGV[6], 2, 2) == '1'
  if newHere then
    local other = redis.call('HGET', KEYS[2], ARGV[3])
    if other and other ~= id then
      return { -2, other }
    end
  end
  if oldHere then redis.call('HDEL', KEYS[2], ARGV[2]) end
  if newHere then redis.call('HSET', KEYS[2], ARGV[3], id) end
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    redis.call('DEL', key)
  end
  redis.call('DEL', KEYS[4])
end
local removeCount = tonumber(ARGV[4])
local seq = redis.call('HGET', KEYS[1], 'seq')
for i = 5, 4 + removeCount do
  redis.call('ZREM', KEYS[i], id)
end
for i = 5 + removeCount, #KEYS do
  redis.call('ZADD', KEYS[i], seq, id)
end
if ARGV[5] == '-' then
  redis.call('ZREM', KEYS[3], id)
elseif ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[5], id)
end
local fields = {}
for i = 7, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
if #fields > 0 then
  redis.call('HSET', KEYS[1], unpack(fields))
end
local newRev = redis.call('HINCRBY', KEYS[1], 'rev', 1)
return { 1, newRev }
