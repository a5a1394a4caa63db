--[[
  maintenance_mark: record which windows are open now. A window is marked open only while it
  still exists (a reader with an older copy of the windows cannot revive a deleted one).

  KEYS[1]   windows (hash: id -> JSON)
  KEYS[2]   open windows (set)

  ARGV      pairs: window id, '1' open | '0' closed

  Returns the ids whose mark changed (their assets need maintenance_apply)
]]
local changed = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if ARGV[i + 1] == '1' then
    if redis.call('HEXISTS', KEYS[1], id) == 1 and redis.call('SADD', KEYS[2], id) == 1 then
      changed[#changed + 1] = id
    end
  elseif redis.call('SREM', KEYS[2], id) == 1 then
    changed[#changed + 1] = id
  end
end
return changed
