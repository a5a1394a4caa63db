--[[
  asset_owners: the owner of each of several assets of one shard, in one call (the API checks
  who may act on a batch of asset ids). Read-only.

  KEYS      the assets' hashes

  Returns one value per key, in order: the owner, or nil when the asset does not exist.
]]
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGET', KEYS[i], 'owner')
end
return out
