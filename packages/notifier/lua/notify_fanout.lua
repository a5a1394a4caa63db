--[[
  notify_fanout: turn one state change of an asset into the deliveries and timers of each of
  its owner's channels, exactly once per asset and event. Only notifier keys are touched (the
  events entry is acknowledged by the caller afterwards): the `notified` hash holds, per asset,
  the newest event handled; an event not newer than it (re-read after a crash, taken over from
  a dead consumer, or older than one a faster consumer handled) writes nothing.

  Per channel (unit), decided by the caller from the channel's routing, one mode:
    'q'  queue the message now (outbox_append, due at dueAt)
    'h'  hold it: a down change of a channel with a delay; the timer 'hold|<unit>|<asset>'
         fires at holdDue (notify_timer) unless a later change of the asset cancels it
    'u'  a change away from down on a channel with a delay: when it cancels a held down, the
         flap is not sent at all (neither the down nor this); otherwise queued like 'q'
    'x'  queue nothing (filtered out, maintenance)
  Whatever the mode, a change to a state other than down cancels the unit's held down and
  escalation for the asset (the outage ended). Channels whose hash is gone or not enabled get
  nothing, and their reminder for the asset is removed.

  KEYS[1]  notified hash
  KEYS[2]  outboxDue sorted set
  KEYS[3]  reminders sorted set
  KEYS[4]  notifyTimers sorted set
  KEYS[5]  notifyTimerData hash
  KEYS[4+2i], KEYS[5+2i]  channel hash and outbox list of the i-th channel (i = 1..n)

  ARGV[1]  asset id
  ARGV[2]  events entry id
  ARGV[3]  state the asset changed to
  ARGV[4]  now, ms
  ARGV[5]  outbox cap
  ARGV[6]  n, channels
  then per channel, 7 values: unit, mode, message JSON, dueAt (ms; digests collect until
  then), holdDue (ms, mode 'h'), reminder ('' leave, '0' remove, else the due time ms),
  escalation ('' none, else "<dueMs>|<JSON {unit, message}>")

  Returns { queued, reason }  queued: deliveries queued; reason 'stale' when the event was
          not newer than the last one handled for the asset, else 'ok'
]]
--- @include "includes/outbox_append"
--- @include "includes/stream_order"

local last = redis.call('HGET', KEYS[1], ARGV[1])
if last and not_newer(ARGV[2], last) then
  return { 0, 'stale' }
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])

local asset, to, now, cap, n = ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local queued = 0
for i = 1, n do
  local a = 6 + (i - 1) * 7
  local unit, mode, msg, dueAt, holdDue, remind, esc = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
  local hash, outbox = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local member = unit .. '|' .. asset
  local hold, escm = 'hold|' .. member, 'esc|' .. member
  local cancelled = 0
  if to ~= 'down' then
    cancelled = redis.call('ZREM', KEYS[4], hold)
    redis.call('ZREM', KEYS[4], escm)
    redis.call('HDEL', KEYS[5], hold, escm)
  end
  if redis.call('HGET', hash, 'enabled') ~= '1' then
    redis.call('ZREM', KEYS[3], member)
  else
    if remind == '0' then
      redis.call('ZREM', KEYS[3], member)
    elseif remind ~= '' then
      redis.call('ZADD', KEYS[3], remind, member)
    end
    if mode == 'q' or (mode == 'u' and cancelled == 0) then
      outbox_append(outbox, hash, KEYS[2], msg, cap, dueAt, unit)
      queued = queued + 1
    elseif mode == 'h' then
      redis.call('ZADD', KEYS[4], holdDue, hold)
      redis.call('HSET', KEYS[5], hold, cjson.encode({ unit = unit, message = msg }))
    end
    if esc ~= '' then
      local bar = string.find(esc, '|', 1, true)
      redis.call('ZADD', KEYS[4], 'NX', string.sub(esc, 1, bar - 1), escm)
      redis.call('HSETNX', KEYS[5], escm, string.sub(esc, bar + 1))
    end
  end
end
return { queued, 'ok' }
