--[[
  client_update: change a client's name, allowed ranges and quota overrides in one step.

  KEYS[1]   the client (hash: id, name, createdAt, allowCidrs JSON, limits JSON)

  ARGV[1]   new name ('' to keep)
  ARGV[2]   allowCidrs as a JSON array ('' to keep)
  ARGV[3]   JSON object of quota overrides to merge into `limits`: a number sets one, null
            removes it (the configured default applies again) ('' to keep)

  Returns  1   changed
           0   no such client
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'name', ARGV[1])
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'allowCidrs', ARGV[2])
end
if ARGV[3] ~= '' then
  local current = {}
  local stored = redis.call('HGET', KEYS[1], 'limits')
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then
      current = decoded
    end
  end
  for name, value in pairs(cjson.decode(ARGV[3])) do
    if value == cjson.null then
      current[name] = nil
    else
      current[name] = value
    end
  end
  if next(current) == nil then
    redis.call('HDEL', KEYS[1], 'limits')
  else
    redis.call('HSET', KEYS[1], 'limits', cjson.encode(current))
  end
end
return 1
