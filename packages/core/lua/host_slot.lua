--[[
  host_slot: politeness across every executor, shared fairly between tenants. Check starts of a
  host are at least `spacing` apart. A caller gets the next free start when it is at most
  `maxWait` away. Otherwise its tenant gets a turn: that start is reserved for the tenant (at
  most one turn per tenant and host) and the caller is told to come back when the turn is
  `maxWait` away; whichever job of the tenant asks then takes it. A tenant with many jobs thus
  holds at most one start beyond the wait horizon, so another tenant's job starts within about
  maxWait + one spacing per waiting tenant of asking, however many jobs the first has queued.
  A turn not taken by its start is dropped (that start goes unused); the tenant asks afresh.

  KEYS[1]   host key (string: earliest start not yet reserved, ms)
  KEYS[2]   host turns (sorted set: tenant → start reserved for it, ms); same hash slot as KEYS[1]

  ARGV[1]   now, ms
  ARGV[2]   spacing between check starts, ms
  ARGV[3]   longest wait the caller accepts, ms
  ARGV[4]   tenant (the asset's owner)

  Returns  wait >= 0    a start is reserved for this caller: start after `wait` ms
           -retry < 0   no start within the accepted wait: come back in `retry` ms, when the
                        tenant's turn is at most `maxWait` away
]]
local now = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local tenant = ARGV[4]

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)

local turn = redis.call('ZSCORE', KEYS[2], tenant)
if turn then
  local wait = tonumber(turn) - now
  if wait > maxWait then
    return -(wait - maxWait)
  end
  redis.call('ZREM', KEYS[2], tenant)
  return wait
end

local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = start + spacing
local ttl = after - now + 60000
redis.call('SET', KEYS[1], after, 'PX', ttl)
local wait = start - now
if wait <= maxWait then
  return wait
end
redis.call('ZADD', KEYS[2], start, tenant)
redis.call('PEXPIRE', KEYS[2], ttl)
return -(wait - maxWait)
