--[[
  shard_lease: take, keep or give back a dispatcher's lease on one shard (the dispatcher holding
  it schedules and sweeps that shard; see dispatcher/src/shards.ts).

  KEYS[1]   the shard's lease (string: holder id, expires)

  ARGV[1]   'take' (only when free, or already held), 'renew' (only while held), 'release'
  ARGV[2]   holder id (the dispatcher's instance id)
  ARGV[3]   lease length, ms (take, renew)

  Returns 1 when the caller holds the lease after the call, else 0
]]
local holder = redis.call('GET', KEYS[1])
if ARGV[1] == 'release' then
  if holder == ARGV[2] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder == ARGV[2] or (ARGV[1] == 'take' and not holder) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
