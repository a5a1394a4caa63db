--[[
  client_key_auth: who holds an API key, in one round trip; records when the key was last used.

  KEYS[1]   the key's record (hash; a String → client id for keys made before key records)

  ARGV[1]   now, ms
  ARGV[2]   least time between two lastUsedAt writes, ms

  Returns { clientId, keyId, '' }          a usable key (keyId '' for a key not yet migrated)
          { clientId, keyId, expiresAt }   the key expired at expiresAt (ms); lastUsedAt untouched
          false                            no such key
]]
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then
  return { redis.call('GET', KEYS[1]), '', '' }
end
if kind ~= 'hash' then
  return false
end
local f = redis.call('HMGET', KEYS[1], 'client', 'id', 'expiresAt', 'lastUsedAt')
if not f[1] then
  return false
end
local now = tonumber(ARGV[1])
if f[3] and f[3] ~= '' and tonumber(f[3]) <= now then
  return { f[1], f[2], f[3] }
end
if not f[4] or now - tonumber(f[4]) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'lastUsedAt', now)
end
return { f[1], f[2], '' }
