--[[
  notify_set: create or replace a client's webhook configuration.
  A new webhook starts enabled with no failures. Replacing one changes only its configuration
  (url, remindEverySec, and the secret when one is given) and keeps its delivery status
  (failures, disabled, pending deliveries): re-enabling is notify_enable's job.

  KEYS[1]  webhook hash
  ARGV[1]  now, ms
  ARGV[2]  url
  ARGV[3]  secret ('' keeps the current one)
  ARGV[4]  remindEverySec ('' for no reminders)

  Returns 1 created
          2 replaced
          0 refused: a new webhook needs a secret (nothing written)
]]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not exists and ARGV[3] == '' then
  return 0
end
if not exists then
  redis.call('HSET', KEYS[1], 'enabled', '1', 'failures', 0, 'delivered', 0, 'dropped', 0, 'createdAt', ARGV[1])
end
redis.call('HSET', KEYS[1], 'url', ARGV[2], 'updatedAt', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'secret', ARGV[3])
end
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[1], 'remindEverySec')
else
  redis.call('HSET', KEYS[1], 'remindEverySec', ARGV[4])
end
if exists then
  return 2
end
return 1
