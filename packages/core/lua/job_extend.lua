--[[
  job_extend: push a held lease's deadline out, if the token still owns the job.

  KEYS[1]   job hash
  KEYS[2]   leases (sorted set)

  ARGV[1]   job id
  ARGV[2]   lease token
  ARGV[3]   now, ms
  ARGV[4]   lease length, ms

  Returns 1 extended, 0 the lease is no longer ours (expired and re-claimed, or finished)
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 0
end
local deadline = tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'leaseUntil', deadline)
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
return 1
