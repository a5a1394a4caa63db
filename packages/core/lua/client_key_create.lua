--[[
  client_key_create: record a new API key of an existing client, within its quota of keys.

  KEYS[1]   the key's record (hash, by digest)
  KEYS[2]   key id → digest (hash)
  KEYS[3]   the client's key ids (sorted set, scored by expiry)
  KEYS[4]   the client (hash)

  ARGV[1]   key id
  ARGV[2]   digest
  ARGV[3]   client id
  ARGV[4]   name
  ARGV[5]   createdAt, ms
  ARGV[6]   expiresAt, ms ('' for a key that does not expire)
  ARGV[7]   most keys the client may have ('' for no limit)

  Returns { 1 }          created
          { 0 }          no such client
          { -1, count }  the client already has `count` keys, the most it may have
]]
if redis.call('EXISTS', KEYS[4]) == 0 then
  return { 0 }
end
local count = redis.call('ZCARD', KEYS[3])
if ARGV[7] ~= '' and count >= tonumber(ARGV[7]) then
  return { -1, count }
end
local fields = { 'client', ARGV[3], 'id', ARGV[1], 'name', ARGV[4], 'createdAt', ARGV[5] }
if ARGV[6] ~= '' then
  fields[#fields + 1] = 'expiresAt'
  fields[#fields + 1] = ARGV[6]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[6] ~= '' and ARGV[6] or '+inf', ARGV[1])
return { 1 }
