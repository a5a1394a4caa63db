--[[
  notify_remind: fire one due reminder, at most once per due time.
  The reminder is claimed by its score: when the member's score is no longer the one read
  (another notifier fired it, or a state change moved it), nothing is written. A reminder
  whose asset is no longer down (as the caller read it), or whose channel is not enabled or has
  no remindEverySec, is removed. Otherwise the next reminder is scheduled and the delivery
  queued (unless a maintenance window covers the asset: then only the next one is scheduled),
  appended as notify_fanout appends its own (includes/outbox_append.lua). A state change that
  ends the outage removes the member (notify_fanout), so a reminder never follows the recovery
  notification.

  KEYS[1]  reminders sorted set
  KEYS[2]  channel hash of the unit
  KEYS[3]  outbox list of the unit
  KEYS[4]  outboxDue sorted set

  ARGV[1]  member "<unit>|<asset>"
  ARGV[2]  the member's score as read (ZRANGE … WITHSCORES)
  ARGV[3]  now, ms
  ARGV[4]  '1' to deliver, '0' to only reschedule (maintenance)
  ARGV[5]  delivery payload, JSON
  ARGV[6]  unit
  ARGV[7]  outbox cap (oldest deliveries beyond it are dropped and counted)
  ARGV[8]  '1' when the asset is down, '0' when not (or gone)

  Returns { 1, 'queued' }
          { 0, reason }  reason: 'taken', 'recovered' (asset not down or gone), 'off'
                         (no enabled channel or no remindEverySec), 'maintenance'
]]
--- @include "includes/outbox_append"

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return { 0, 'taken' }
end
if ARGV[8] ~= '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return { 0, 'recovered' }
end
local hook = redis.call('HMGET', KEYS[2], 'enabled', 'remindEverySec')
local every = tonumber(hook[2] or '') or 0
if hook[1] ~= '1' or every <= 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return { 0, 'off' }
end
redis.call('ZADD', KEYS[1], math.floor(tonumber(ARGV[3]) + every * 1000), ARGV[1])
if ARGV[4] ~= '1' then
  return { 0, 'maintenance' }
end
outbox_append(KEYS[3], KEYS[2], KEYS[4], ARGV[5], tonumber(ARGV[7]), ARGV[3], ARGV[6])
return { 1, 'queued' }
