--[[
  maintenance_apply: bring assets' maintenance state in line with the open windows naming them.

  An asset's `state` field stays what its checks say; its `maintenance` field holds the id of the
  open window covering it (absent when none). Its state index entry is its effective state:
  `maintenance` while covered, else `state` (job_complete and AssetStore keep to the same rule).
  A change of coverage moves the index entry and bumps `rev` (writers guarded by rev re-read).

  KEYS[1]   open windows (set)

  ARGV[1]   asset hash key prefix (+ asset id)
  ARGV[2]   owner index prefix (+ '<owner>:' + 'state:<state>'; the fleet's owner is '*')
  ARGV[3]   by-asset set prefix (+ asset id)
  ARGV[4]   by-tag set prefix (+ '<owner>:<tag>')
  ARGV[5..] asset ids

  Returns the number of assets whose coverage changed
]]
local changed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local a = redis.call('HMGET', key, 'owner', 'tags', 'state', 'seq', 'maintenance')
  if a[1] then
    local current = a[5] or ''
    local ok, tags = pcall(cjson.decode, a[2] or '[]')
    if not ok or type(tags) ~= 'table' then tags = {} end
    -- The current window while it stays open and names the asset (a stable reason: checked
    -- first, without listing every window of the asset), else the smallest open id.
    local keep = false
    if current ~= '' and redis.call('SISMEMBER', KEYS[1], current) == 1 then
      keep = redis.call('SISMEMBER', ARGV[3] .. id, current) == 1
      for _, tag in ipairs(tags) do
        if keep then break end
        keep = redis.call('SISMEMBER', ARGV[4] .. a[1] .. ':' .. tag, current) == 1
      end
    end
    local best = nil
    if keep then best = current end
    local function consider(windowId)
      if (best == nil or windowId < best) and redis.call('SISMEMBER', KEYS[1], windowId) == 1 then best = windowId end
    end
    if not keep then
      for _, w in ipairs(redis.call('SMEMBERS', ARGV[3] .. id)) do consider(w) end
      for _, tag in ipairs(tags) do
        for _, w in ipairs(redis.call('SMEMBERS', ARGV[4] .. a[1] .. ':' .. tag)) do consider(w) end
      end
    end
    best = best or ''
    if best ~= current then
      local state = a[3] or 'unknown'
      local from = current == '' and state or 'maintenance'
      local to = best == '' and state or 'maintenance'
      if from ~= to then
        for _, owner in ipairs({ a[1], '*' }) do
          local prefix = ARGV[2] .. owner .. ':state:'
          redis.call('ZREM', prefix .. from, id)
          redis.call('ZADD', prefix .. to, a[4], id)
        end
      end
      if best == '' then
        redis.call('HDEL', key, 'maintenance')
      else
        redis.call('HSET', key, 'maintenance', best)
      end
      redis.call('HINCRBY', key, 'rev', 1)
      changed = changed + 1
    end
  end
end
return changed
