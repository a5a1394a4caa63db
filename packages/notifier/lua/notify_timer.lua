--[[
  notify_timer: fire one due timer of notifyTimers (a held down whose delay passed, or an
  escalation whose outage outlasted afterSec), at most once. The timer is claimed by its score
  (another notifier fired it, or a state change cancelled it: nothing is written). Its data
  {unit, message} names the unit whose outbox gets the message; nothing is queued when that
  channel is gone or not enabled, or when the caller says not to deliver (the asset recovered,
  or a maintenance window covers it).

  KEYS[1]  notifyTimers sorted set
  KEYS[2]  notifyTimerData hash
  KEYS[3]  channel hash of the target unit
  KEYS[4]  outbox list of the target unit
  KEYS[5]  outboxDue sorted set

  ARGV[1]  timer member
  ARGV[2]  its score as read
  ARGV[3]  now, ms
  ARGV[4]  '1' to deliver, '0' to drop
  ARGV[5]  target unit
  ARGV[6]  outbox cap
  ARGV[7]  the message, JSON (as read from the data, possibly re-rendered)

  Returns 1 queued, 0 not queued, -1 taken or cancelled
]]
--- @include "includes/outbox_append"

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return -1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[4] ~= '1' or redis.call('HGET', KEYS[3], 'enabled') ~= '1' then
  return 0
end
outbox_append(KEYS[4], KEYS[3], KEYS[5], ARGV[7], tonumber(ARGV[6]), ARGV[3], ARGV[5])
return 1
