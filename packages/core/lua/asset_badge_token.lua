--[[
  asset_badge_token: sets the digest of an asset's badge token, only while the asset exists (a
  deleted asset's hash must not come back with this one field).

  KEYS[1]   the asset (hash)

  ARGV[1]   SHA-256 (hex) of the new badge token

  Returns  1   set (any earlier token no longer works)
           0   no such asset
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'badgeDigest', ARGV[1])
return 1
