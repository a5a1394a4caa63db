--[[
  notify_fanout: turn one entry of the events stream into (at most) one delivery, exactly once.
  Acknowledging the entry and queueing its delivery happen together: an entry that another
  consumer already handled (XACK returns 0) writes nothing, so re-processing after a crash or
  an XAUTOCLAIM never queues a second delivery. The delivery is appended to the owner's
  outbox as notify_remind appends reminders (includes/outbox_append.lua).

  Per asset, only state changes newer than the last one handled are used (field
  `notifiedEventId` of the asset hash, a stream id): an older entry that arrives late (claimed
  from a crashed consumer, or handled by a slower consumer) would tell the receiver a state
  the asset has already left, so it is dropped as 'stale'.

  Reminders: while the asset is down and the client's webhook has remindEverySec, the member
  "<client>|<asset>" of the reminders set holds the next reminder time; any other state
  removes it.

  KEYS[1]  events stream
  KEYS[2]  asset hash
  KEYS[3]  webhook hash of the asset's owner
  KEYS[4]  outbox list of the owner
  KEYS[5]  outboxDue sorted set
  KEYS[6]  reminders sorted set

  ARGV[1]  consumer group
  ARGV[2]  stream entry id (also the delivery id)
  ARGV[3]  '1' to deliver, '0' to only record (the asset is in a maintenance window)
  ARGV[4]  delivery payload, JSON
  ARGV[5]  now, ms
  ARGV[6]  client id (the owner)
  ARGV[7]  reminders member "<client>|<asset>"
  ARGV[8]  state the asset changed to
  ARGV[9]  outbox cap (oldest deliveries beyond it are dropped and counted)

  Returns { 1, 'queued' }
          { 0, reason }  reason: 'duplicate' (already acknowledged), 'gone' (asset deleted),
                         'stale', 'no_webhook' (none, or disabled), 'maintenance'
]]
--- @include "includes/outbox_append"

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return { 0, 'duplicate' }
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { 0, 'gone' }
end

-- true when stream id a is older than or equal to stream id b
local function not_newer(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if not ams or not bms then
    return false
  end
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then
    return ams < bms
  end
  return tonumber(aseq) <= tonumber(bseq)
end

local last = redis.call('HGET', KEYS[2], 'notifiedEventId')
if last and not_newer(ARGV[2], last) then
  return { 0, 'stale' }
end
redis.call('HSET', KEYS[2], 'notifiedEventId', ARGV[2])

local hook = redis.call('HMGET', KEYS[3], 'enabled', 'remindEverySec')
if hook[1] ~= '1' then
  redis.call('ZREM', KEYS[6], ARGV[7])
  return { 0, 'no_webhook' }
end
local every = tonumber(hook[2] or '') or 0
if ARGV[8] == 'down' and every > 0 then
  redis.call('ZADD', KEYS[6], math.floor(tonumber(ARGV[5]) + every * 1000), ARGV[7])
else
  redis.call('ZREM', KEYS[6], ARGV[7])
end

if ARGV[3] ~= '1' then
  return { 0, 'maintenance' }
end
outbox_append(KEYS[4], KEYS[3], KEYS[5], ARGV[4], tonumber(ARGV[9]), ARGV[5], ARGV[6])
return { 1, 'queued' }
