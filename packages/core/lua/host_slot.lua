--[[
  host_slot: politeness across every executor. Reserves the next start slot for a host, at
  least `spacing` after the previous one, or says how long until one is free when that is too
  long to wait (nothing is reserved then).

  KEYS[1]   host key (string: earliest time the next check of this host may start, ms)

  ARGV[1]   now, ms
  ARGV[2]   spacing between check starts, ms
  ARGV[3]   longest wait the caller accepts, ms

  Returns  wait >= 0   a slot is reserved; start after `wait` ms
           -wait < 0   no slot within the accepted wait; the next is `wait` ms away
]]
local now = tonumber(ARGV[1])
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, nextAt)
local wait = start - now
if wait > tonumber(ARGV[3]) then
  return -wait
end
local after = start + tonumber(ARGV[2])
redis.call('SET', KEYS[1], after, 'PX', after - now + 60000)
return wait
