--[[
  notify_channel_set: create or replace one channel of a client. A new channel starts enabled
  with no failures; replacing one changes only its configuration and keeps its delivery status
  (failures, disabled, pending deliveries): re-enabling is notify_enable's job. Channels other
  than `webhook` are listed in the client's channels hash (id → name), names unique per client;
  a client has at most `cap` channels, its webhook channel included.

  KEYS[1]  channel hash
  KEYS[2]  the client's channels hash (id → name)
  KEYS[3]  the client's webhook channel hash (counted against the cap)

  ARGV[1]  now, ms
  ARGV[2]  channel id
  ARGV[3]  name ('' for the webhook channel, which is not listed)
  ARGV[4]  most channels per client
  ARGV[5]  field a new channel must be given ('' for none)
  ARGV[6]  'create' (must not exist), 'update' (must exist) or 'upsert'
  ARGV[7]  n: field/value pairs to set follow (2n values), then fields to delete

  Returns 1 created, 2 replaced, 0 a new channel lacks the required field,
          -1 the client has `cap` channels, -2 the name belongs to another channel,
          -3 no such channel (update), -4 the channel exists (create); nothing written unless > 0
]]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[6] == 'update' and not exists then
  return -3
end
if ARGV[6] == 'create' and exists then
  return -4
end
local n = tonumber(ARGV[7])
if not exists and ARGV[5] ~= '' then
  local given = false
  for i = 0, n - 1 do
    if ARGV[8 + 2 * i] == ARGV[5] then
      given = true
    end
  end
  if not given then
    return 0
  end
end
if ARGV[3] ~= '' then
  local names = redis.call('HGETALL', KEYS[2])
  for i = 1, #names, 2 do
    if names[i + 1] == ARGV[3] and names[i] ~= ARGV[2] then
      return -2
    end
  end
end
if not exists then
  local count = redis.call('HLEN', KEYS[2]) + redis.call('EXISTS', KEYS[3])
  if count >= tonumber(ARGV[4]) then
    return -1
  end
  redis.call('HSET', KEYS[1], 'enabled', '1', 'failures', 0, 'delivered', 0, 'dropped', 0, 'createdAt', ARGV[1])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[8 + 2 * i], ARGV[9 + 2 * i])
end
for i = 8 + 2 * n, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
if exists then
  return 2
end
return 1
