--[[
  status_page_write: create, replace or delete one status page, keeping its owner's index.

  KEYS[1]   status pages (hash: slug → JSON page)
  KEYS[2]   the owner's status page slugs (set)

  ARGV[1]   'create', 'update' or 'delete'
  ARGV[2]   slug
  ARGV[3]   JSON page (create, update; '' for delete)
  ARGV[4]   most pages one owner may have (create)

  Returns  { 'ok', count }       done; count = the owner's pages afterwards
           { 'exists', 0 }       create: the slug is taken (by any owner)
           { 'quota', count }    create: the owner already has ARGV[4] pages
           { 'missing', 0 }      update, delete: no page with this slug
]]
local mode, slug = ARGV[1], ARGV[2]
local exists = redis.call('HEXISTS', KEYS[1], slug) == 1
if mode == 'create' then
  if exists then
    return { 'exists', 0 }
  end
  local count = redis.call('SCARD', KEYS[2])
  if count >= tonumber(ARGV[4]) then
    return { 'quota', count }
  end
  redis.call('HSET', KEYS[1], slug, ARGV[3])
  redis.call('SADD', KEYS[2], slug)
  return { 'ok', count + 1 }
end
if not exists then
  return { 'missing', 0 }
end
if mode == 'update' then
  redis.call('HSET', KEYS[1], slug, ARGV[3])
else
  redis.call('HDEL', KEYS[1], slug)
  redis.call('SREM', KEYS[2], slug)
end
return { 'ok', redis.call('SCARD', KEYS[2]) }
