--[[
  notify_mark: the shard-side half of notify_fanout for sharded layouts (see notify_queue):
  records the event as the asset's newest handled one, unless a newer one is recorded or the
  asset is gone, and acknowledges the stream entry.

  KEYS[1]  events stream (the asset's shard)
  KEYS[2]  asset hash

  ARGV[1]  consumer group
  ARGV[2]  stream entry id

  Returns the number of entries acknowledged (0: another consumer already had)
]]
if redis.call('EXISTS', KEYS[2]) == 1 then
  local last = redis.call('HGET', KEYS[2], 'notifiedEventId')
  local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
  local lms, lseq = string.match(last or '', '^(%d+)-(%d+)$')
  if not lms or (ms and (tonumber(ms) > tonumber(lms) or (tonumber(ms) == tonumber(lms) and tonumber(seq) > tonumber(lseq)))) then
    redis.call('HSET', KEYS[2], 'notifiedEventId', ARGV[2])
  end
end
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
