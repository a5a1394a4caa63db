--[[
  asset_create: create an asset unless its owner already has one with the same URL.

  KEYS[1]   owner URL hash (normalised url -> asset id)
  KEYS[2]   asset sequence counter
  KEYS[3]   asset hash of the new asset
  KEYS[4]   schedule (sorted set: asset id -> next due time, ms)
  KEYS[5..] sorted-set indexes the asset joins (all assets, state, plugins, tags; owner and fleet)

  ARGV[1]   normalised url
  ARGV[2]   new asset id
  ARGV[3]   first due time, ms ('' for an asset that is not scheduled: paused, unsupported)
  ARGV[4]   most assets the owner may have ('' for no limit); counted in KEYS[5], the owner's
            index of all its assets
  ARGV[5..] field, value pairs of the asset hash (seq and rev are set here)

  Returns { 1, id, seq }        created
          { 0, existingId }     the owner already watches this URL; nothing changed
          { -1, count }         the owner already has `count` assets, the most it may have
]]
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  return { 0, existing }
end
if ARGV[4] ~= '' then
  local count = redis.call('ZCARD', KEYS[5])
  if count >= tonumber(ARGV[4]) then
    return { -1, count }
  end
end
local seq = redis.call('INCR', KEYS[2])
local fields = { 'seq', seq, 'rev', 1 }
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], seq, ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
end
return { 1, ARGV[2], seq }
