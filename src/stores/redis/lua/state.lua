-- state.lua: how batch.lua (the body of decide.lua and node.lua) reads and writes a key's state.
--
-- They take what changes per call (graceMs, CACHE) as arguments: in the function library
-- this file runs once, at FUNCTION LOAD, rather than making three closures on every call.

-- put writes a serialized state (raw) with a TTL of resetMs + grace, or deletes the key
-- when resetMs is not above 0. It returns what the key now holds: raw, or false, and keeps
-- cache (node.lua's CACHE; nil for decide.lua) up to date. With `absent` (the key was read
-- as missing, by MGET) it writes only if the key still does not exist: MGET reads a key of
-- another type as missing where GET fails, so such a key fails the call with WRONGTYPE, as
-- GET would, instead of being overwritten. The TTL goes as text made by string.format('%d'):
-- a number argument is turned into text by Redis with '%.17g', which costs more; PSETEX
-- parses no options, as SET would.
local function put(key, raw, reset_ms, absent, grace, cache)
  if reset_ms > 0 then
    local ttl = string.format('%d', reset_ms + grace)
    if absent then
      if not redis.call('SET', key, raw, 'PX', ttl, 'NX') then
        error({ err = 'WRONGTYPE Operation against a key holding the wrong kind of value' })
      end
    else
      redis.call('PSETEX', key, ttl, raw)
    end
    if cache then cache[key] = raw end
    return raw
  end
  redis.call('DEL', key)
  if cache then cache[key] = false end
  return false
end

-- store writes a state (a table) as put does, or deletes the key when the state holds no
-- information.
local function store(key, st, reset_ms, absent, grace, cache)
  if reset_ms > 0 and #st > 0 then return put(key, serialize(st), reset_ms, absent, grace, cache) end
  return put(key, '', 0, absent, grace, cache)
end

-- get reads one key's state: from cache when there is one, else from Redis.
local function get(key, cache)
  if cache then return cache[key] end
  return redis.call('GET', key)
end
