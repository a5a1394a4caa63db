--[[
  asset_create: create an asset unless its owner already has one with the same URL.

  KEYS[1]   owner URL hash (normalised url -> asset id), in the asset's shard
  KEYS[2]   asset hash of the new asset
  KEYS[3]   schedule (sorted set: asset id -> next due time, ms)
  KEYS[4..] sorted-set indexes the asset joins (all assets, state, plugins, tags; owner and fleet)

  ARGV[1]   normalised url
  ARGV[2]   new asset id
  ARGV[3]   first due time, ms ('' for an asset that is not scheduled: paused, unsupported)
  ARGV[4]   most assets the owner may have in this shard ('' for no limit); counted in KEYS[4],
            the owner's index of all its assets in the shard
  ARGV[5]   the asset's creation sequence (taken from the global counter before the call: the
            counter is in another hash slot than the shard; a create that finds the URL taken
            leaves a gap in the sequence, which orders but never counts)
  ARGV[6..] field, value pairs of the asset hash (seq and rev are set here)

  Returns { 1, id, seq }        created
          { 0, existingId }     the owner already watches this URL; nothing changed
          { -1, count }         the owner already has `count` assets in this shard, the most it may have
]]
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  return { 0, existing }
end
if ARGV[4] ~= '' then
  local count = redis.call('ZCARD', KEYS[4])
  if count >= tonumber(ARGV[4]) then
    return { -1, count }
  end
end
local seq = tonumber(ARGV[5])
local fields = { 'seq', seq, 'rev', 1 }
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], seq, ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
end
return { 1, ARGV[2], seq }
