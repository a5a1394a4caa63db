--[[
  job_enqueue: queue jobs of one shard (POST /jobs, the probe endpoint), atomically: each job's
  hash, then the jobs' places in the queue in as few ZADDs as the Lua stack allows. One call
  instead of a MULTI of two commands a job.

  KEYS[1]   queued jobs (sorted set, score = when queued)
  KEYS[2..] the jobs' hashes, one per job

  ARGV[1]   now, ms (createdAt, and the score in the queue)
  ARGV[2]   priority
  ..        then per job, in KEYS order: job id, asset id, owner

  Returns the number of jobs queued.
]]
local now, priority = ARGV[1], ARGV[2]
local queued = {}
for k = 2, #KEYS do
  local at = 3 * k - 3
  local id = ARGV[at]
  redis.call('HSET', KEYS[k], 'id', id, 'assetId', ARGV[at + 1], 'owner', ARGV[at + 2], 'priority', priority, 'status', 'queued', 'attempts', 0, 'createdAt', now)
  queued[#queued + 1], queued[#queued + 2] = now, id
  -- unpack() puts every member on Lua's stack (at most about 8000 values).
  if #queued >= 2000 then
    redis.call('ZADD', KEYS[1], unpack(queued))
    queued = {}
  end
end
if #queued > 0 then
  redis.call('ZADD', KEYS[1], unpack(queued))
end
return #KEYS - 1
