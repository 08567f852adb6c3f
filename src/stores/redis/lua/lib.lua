-- lib.lua: helpers shared by every floodgate script, the twins of src/core/policy.ts.
--
-- Every number that crosses the boundary is a whole number or a string: Redis
-- truncates fractional Lua numbers in replies. State is stored as doubles printed
-- with '%.17g', which reads back as exactly the same double.

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

-- parse reads a stored state ("d1 d2 ...") into an array of doubles. The fixed-size
-- states (one to three numbers) take a fast path without a pattern iterator.
local function parse(raw)
  local s1 = string.find(raw, ' ', 1, true)
  if not s1 then return { tonumber(raw) } end
  local s2 = string.find(raw, ' ', s1 + 1, true)
  if not s2 then return { tonumber(string.sub(raw, 1, s1 - 1)), tonumber(string.sub(raw, s1 + 1)) } end
  local s3 = string.find(raw, ' ', s2 + 1, true)
  if not s3 then
    return { tonumber(string.sub(raw, 1, s1 - 1)), tonumber(string.sub(raw, s1 + 1, s2 - 1)),
      tonumber(string.sub(raw, s2 + 1)) }
  end
  local t = {}
  local n = 0
  for w in string.gmatch(raw, '%S+') do
    n = n + 1
    t[n] = tonumber(w)
  end
  return t
end

-- serialize prints a state so that parse returns exactly the same doubles.
local function serialize(t)
  local n = #t
  if n == 2 then return string.format('%.17g %.17g', t[1], t[2]) end
  if n == 1 then return string.format('%.17g', t[1]) end
  if n == 3 then return string.format('%.17g %.17g %.17g', t[1], t[2], t[3]) end
  local parts = {}
  for i = 1, n do parts[i] = string.format('%.17g', t[i]) end
  return table.concat(parts, ' ')
end

-- LOAD maps a policy kind code to a loader returning its math: eval(st, now, cost,
-- p1, p2, p3) returns ok, remaining, retryAfterMs, resetAfterMs, next state (or nil
-- when denied); refund(st, now, cost, p1, p2, p3) returns the state to keep (or nil
-- for no change). st is nil for a key without state (fresh). Loaders run only for
-- the kinds a call uses: Redis runs the whole script body on every call, and each
-- function definition it executes costs a closure.
local LOAD = {}
local ALG = {}

-- alg returns the math of a kind, loading it on first use.
local function alg(kind)
  local a = ALG[kind]
  if not a then
    a = LOAD[kind]()
    ALG[kind] = a
  end
  return a
end
