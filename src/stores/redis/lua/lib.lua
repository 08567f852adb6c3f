-- lib.lua: helpers shared by every floodgate script, the twins of src/core/policy.ts.
--
-- Every number that crosses the boundary is a whole number or a string: Redis
-- truncates fractional Lua numbers in replies. State is stored as binary doubles
-- (struct.pack '<d'), which read back as exactly the same doubles.

-- EPSILON absorbs double rounding in token arithmetic: 1e-9 of a token (as in TypeScript).
local EPSILON = 1e-9

-- floor_tokens floors a token count, forgiving rounding just below a whole number.
local function floor_tokens(x)
  local f = math.floor(x + EPSILON)
  if f > 0 then return f end
  return 0
end

-- ceil_ms rounds a duration up to whole milliseconds, never below 0.
local function ceil_ms(x)
  local c = math.ceil(x)
  if c > 0 then return c end
  return 0
end

-- WAIT_GUARD and FIX_STEPS make every wait exact, as in TypeScript (policy.ts): a wait
-- estimated by formula is used as is when further than the guard (2^-47 of the clock
-- and of the algorithm's longest wait) from a whole ms, else settled by the test itself
-- at the time that tells on which side of that ms it lies (settleSide), moving at most
-- FIX_STEPS ms. Each algorithm writes the guard out in its wait, rather than calling a
-- helper here: every top-level function costs a closure on every call of a script.
local WAIT_GUARD = 2 ^ -47
local FIX_STEPS = 8

-- until_ms returns the smallest whole r >= 0 with now + r >= end_ms (untilMs in TypeScript).
local function until_ms(end_ms, now)
  local r = math.ceil(end_ms - now)
  if r > 0 and now + r >= end_ms and now + (r - 1) < end_ms then return r end
  if r <= 0 then r = 0 end
  local i = 0
  while i < FIX_STEPS and r > 0 and now + (r - 1) >= end_ms do
    r = r - 1
    i = i + 1
  end
  i = 0
  while i < FIX_STEPS and now + r < end_ms do
    r = r + 1
    i = i + 1
  end
  return r
end

-- now_ms returns the time in ms: `given` (ARGV text) when not empty, else the
-- server's clock. It turns on effect replication first, since TIME is not
-- deterministic and scripts that read it must replicate their writes. Redis 7+
-- (which sets REDIS_VERSION_NUM) replicates scripts only by their effects, and its
-- replicate_commands does nothing: the call, about 900 instructions, is skipped there.
local function now_ms(given)
  if not redis.REDIS_VERSION_NUM and redis.replicate_commands then redis.replicate_commands() end
  if given == '' then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  end
  return tonumber(given)
end

-- NUM_MEMO is nil in a script; in the function library memo.lua sets it to a memo
-- of tonumber that lives across calls. Each entry point reads the ARGV items that
-- repeat from call to call (counts, costs, indexes, params) with
-- `local num = NUM_MEMO or tonumber` (tonumber cannot be read while FUNCTION LOAD
-- runs this file). The time (nowMs) changes every call and goes through tonumber.
-- NUM is the memo's table (text -> number; nil in a script), read directly where a
-- call to NUM_MEMO would cost more than the lookup it saves (lone.lua).
-- SPECS (nil in a script) is lone.lua's memo in the function library: a lone call's
-- spec text ('p1 p2 p3 cost') -> { p1, p2, p3, cost }; SPEC_KEEP adds an entry.
local NUM_MEMO = nil
local NUM = nil
local SPECS = nil
local SPEC_KEEP = nil

-- CHUNK is how many doubles parse and serialize move per struct call (Lua 5.1
-- limits how many values one call may return).
local CHUNK = 64

-- parse reads a stored state (little-endian IEEE doubles, 8 bytes each) into an
-- array of doubles. Binary doubles read back exactly, with no text formatting.
local function parse(raw)
  local n = #raw / 8
  if n == 2 then
    local a, b = struct.unpack('<dd', raw)
    return { a, b }
  end
  if n == 1 then return { (struct.unpack('<d', raw)) } end
  if n == 3 then
    local a, b, c = struct.unpack('<ddd', raw)
    return { a, b, c }
  end
  local t = {}
  local i = 0
  local pos = 1
  while i < n do
    local m = n - i
    if m > CHUNK then m = CHUNK end
    local vals = { struct.unpack('<' .. string.rep('d', m), raw, pos) }
    for j = 1, m do t[i + j] = vals[j] end
    pos = vals[m + 1]
    i = i + m
  end
  return t
end

-- serialize packs a state so that parse returns exactly the same doubles.
local function serialize(t)
  local n = #t
  if n == 2 then return struct.pack('<dd', t[1], t[2]) end
  if n == 1 then return struct.pack('<d', t[1]) end
  if n == 3 then return struct.pack('<ddd', t[1], t[2], t[3]) end
  local parts = {}
  local i = 0
  while i < n do
    local m = n - i
    if m > CHUNK then m = CHUNK end
    parts[#parts + 1] = struct.pack('<' .. string.rep('d', m), unpack(t, i + 1, i + m))
    i = i + m
  end
  return table.concat(parts)
end

-- LOAD maps a policy kind code to a loader returning its math: eval(st, now, cost,
-- p1, p2, p3) returns ok, remaining, retryAfterMs, resetAfterMs, next, rebased:
-- next is the new state when admitted, else the rebased state or nil, and rebased is
-- true when the state's time was ahead of now (a clock gone back) and next holds it
-- moved back (Outcome.rebased in TypeScript). A caller stores next when admitted with
-- a cost above 0, or when rebased (even for a denial or a peek). refund(st, now,
-- cost, p1, p2, p3) returns the state to keep (or nil for no change). st is nil for a
-- key without state (fresh). Loaders run only for the kinds a call uses: Redis runs
-- the whole script body on every call, and each function definition it executes
-- costs a closure, so helpers live inside the loaders.
-- In the function library (FCALL) this file runs once, at FUNCTION LOAD, so ALG
-- keeps each kind's math across calls; ALG_MAX bounds it there (live kinds carry a
-- version, so a long-lived server could see many), emptying it when full.
local LOAD = {}
local ALG = {}
local ALG_MAX = 256
local ALG_N = 0

-- alg returns the math of a kind, loading it on first use.
local function alg(kind)
  local a = ALG[kind]
  if not a then
    local load = LOAD[kind]
    -- A live kind ('tb@3@p', see live.lua) is built around its algorithm's math.
    if load then a = load() else a = LOAD['live']()(kind) end
    if ALG_N >= ALG_MAX then
      ALG = {}
      ALG_N = 0
    end
    ALG[kind] = a
    ALG_N = ALG_N + 1
  end
  return a
end
