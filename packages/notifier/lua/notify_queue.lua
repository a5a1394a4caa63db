--[[
  notify_queue: the client-side half of notify_fanout and notify_remind, for sharded layouts
  (keys.ts), where the events stream and the asset hash are in the asset's shard and a client's
  webhook, outbox and reminders in the global slot: one script cannot touch both. The caller
  reads the asset first (exists, notifiedEventId, state), runs this, then records the event
  with notify_mark. A notifier dying between the two makes the event be handled again by the
  next consumer: a delivery may then be queued twice, with the same delivery id (at least once;
  with a single shard notify_fanout does all of it atomically).

  KEYS[1]  webhook hash of the client
  KEYS[2]  outbox list of the client
  KEYS[3]  outboxDue sorted set
  KEYS[4]  reminders sorted set

  ARGV[1]  'event' (a state change) or 'remind' (a due reminder)
  ARGV[2]  '1' to deliver, '0' to only record (the asset is in a maintenance window)
  ARGV[3]  delivery payload, JSON
  ARGV[4]  now, ms
  ARGV[5]  client id
  ARGV[6]  reminders member "<client>|<asset>"
  ARGV[7]  event: the state the asset changed to; remind: the asset's state as read just before
  ARGV[8]  outbox cap (oldest deliveries beyond it are dropped and counted)
  ARGV[9]  remind: the member's score as read

  Returns { 1, 'queued' } or { 0, why }: event: 'no_webhook', 'maintenance'; remind: 'taken',
          'recovered', 'off', 'maintenance' (as notify_fanout and notify_remind)
]]
--- @include "includes/outbox_append"

local hook = redis.call('HMGET', KEYS[1], 'enabled', 'remindEverySec')
local every = tonumber(hook[2] or '') or 0
if ARGV[1] == 'remind' then
  local score = redis.call('ZSCORE', KEYS[4], ARGV[6])
  if not score or tonumber(score) ~= tonumber(ARGV[9]) then
    return { 0, 'taken' }
  end
  if ARGV[7] ~= 'down' then
    redis.call('ZREM', KEYS[4], ARGV[6])
    return { 0, 'recovered' }
  end
  if hook[1] ~= '1' or every <= 0 then
    redis.call('ZREM', KEYS[4], ARGV[6])
    return { 0, 'off' }
  end
  redis.call('ZADD', KEYS[4], math.floor(tonumber(ARGV[4]) + every * 1000), ARGV[6])
else
  if hook[1] ~= '1' then
    redis.call('ZREM', KEYS[4], ARGV[6])
    return { 0, 'no_webhook' }
  end
  if ARGV[7] == 'down' and every > 0 then
    redis.call('ZADD', KEYS[4], math.floor(tonumber(ARGV[4]) + every * 1000), ARGV[6])
  else
    redis.call('ZREM', KEYS[4], ARGV[6])
  end
end
if ARGV[2] ~= '1' then
  return { 0, 'maintenance' }
end
outbox_append(KEYS[2], KEYS[1], KEYS[3], ARGV[3], tonumber(ARGV[8]), ARGV[4], ARGV[5])
return { 1, 'queued' }
