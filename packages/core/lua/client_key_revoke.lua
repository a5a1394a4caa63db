--[[
  client_key_revoke: delete an API key; the next request made with it is refused.

  KEYS[1]   the key's record (hash, by digest)
  KEYS[2]   key id → digest (hash)
  KEYS[3]   the client's key ids (sorted set, scored by expiry)

  ARGV[1]   key id
  ARGV[2]   now, ms
  ARGV[3]   '1': refuse to revoke the client's last usable (unexpired) key; '0': revoke anyway

  Returns  1   revoked
           0   no such key
          -1   it is the client's last usable key (ARGV[3] = '1'); nothing changed
]]
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not score then
  return 0
end
local now = tonumber(ARGV[2])
if ARGV[3] == '1' and tonumber(score) > now and redis.call('ZCOUNT', KEYS[3], '(' .. ARGV[2], '+inf') <= 1 then
  return -1
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
