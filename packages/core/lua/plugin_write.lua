--[[
  plugin_write: a plugin's write to its storage for one asset, only while the asset exists (a
  check still running when its asset is deleted must not leave keys behind that nothing would
  ever delete).

  KEYS[1]   asset hash
  KEYS[2]   the plugin's data key
  KEYS[3]   set naming the asset's plugin-storage keys

  ARGV[1]   'set' (string value) | 'push' (append to a list, keep the last ARGV[3] entries)
  ARGV[2]   value
  ARGV[3]   (push) most entries kept

  Returns  'set': 1 written, 0 the asset is gone
           'push': the list after the push ({} when the asset is gone)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == 'set' then return 0 end
  return {}
end
redis.call('SADD', KEYS[3], KEYS[2])
if ARGV[1] == 'set' then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
return redis.call('LRANGE', KEYS[2], 0, -1)
