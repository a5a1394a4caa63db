--[[
  client_key_migrate: turn a key made before key records (String → client id) into a record,
  so that it can be listed and revoked. Keeps working the same meanwhile: no expiry.

  KEYS[1]   the key (String → client id, by digest)
  KEYS[2]   key id → digest (hash)
  KEYS[3]   the client's key ids (sorted set, scored by expiry)

  ARGV[1]   client id the key was read as (the migration is skipped if it changed since)
  ARGV[2]   new key id
  ARGV[3]   digest
  ARGV[4]   createdAt to record, ms (the client's creation: its first key was made with it)

  Returns  1   migrated
           0   nothing to do (already a record, gone, or changed)
]]
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' or redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'client', ARGV[1], 'id', ARGV[2], 'name', '', 'createdAt', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], '+inf', ARGV[2])
return 1
