--[[
  host_backoff: a host asked us to wait (Retry-After on 429/503): no check of it starts before
  `until`. Never moves the next slot earlier. Tenants' turns before `until` are dropped (their
  jobs ask again and are given starts after it).

  KEYS[1]   host key (see host_slot.lua)
  KEYS[2]   host turns (see host_slot.lua)

  ARGV[1]   now, ms
  ARGV[2]   until, ms

  Returns the earliest next start, ms
]]
local now = tonumber(ARGV[1])
local untilAt = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. untilAt)
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilAt > nextAt then
  redis.call('SET', KEYS[1], untilAt, 'PX', untilAt - now + 60000)
  return untilAt
end
return nextAt
