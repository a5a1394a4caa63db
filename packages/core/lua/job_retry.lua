--[[
  job_retry: put a failed job back in the queue, on request (the failed set is for inspection
  and retry). Its attempts start again from zero.

  KEYS[1]   job hash
  KEYS[2]   failed jobs (sorted set)
  KEYS[3]   queued jobs (sorted set)

  ARGV[1]   job id
  ARGV[2]   now, ms

  Returns 1 queued again, 0 no such job, -1 the job is not failed
]]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 0
end
if status ~= 'failed' then
  return -1
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'retriedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'finishedAt', 'notBefore')
redis.call('PERSIST', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
