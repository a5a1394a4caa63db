--[[
  include stream_order: comparing stream entry ids.

  not_newer(a, b)  true when stream id a is older than or equal to stream id b (false when
                   either is not a stream id)
]]
local function not_newer(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if not ams or not bms then
    return false
  end
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then
    return ams < bms
  end
  return tonumber(aseq) <= tonumber(bseq)
end
