-- lone.lua: one consume (or peek, cost 0) of one policy, the common call at low concurrency.
--
-- scripts/gen-lua.ts builds one such script per policy kind: `local KIND = '<kind>'`,
-- then lib.lua, the kind's math file and this file. A dedicated script runs only
-- its kind's definitions and no batch decoding: a lone call costs Redis about
-- half of decide.lua's CPU. The math is the same code as decide.lua's. In the
-- function library this file is the body of the function that lone(KIND) returns,
-- one per kind (fg_<hash>_lone_<kind>), made once at FUNCTION LOAD.
--
-- KEYS: the policy's key.
-- ARGV: spec, the policy's params, the cost and the reply's base in one text,
--       'p1 p2 p3 cost base' (each as decide.lua's ARGV item; base is a power of 2 above
--       the policy's limit); then, with an injected clock only, nowMs and graceMs.
--       Without them the time is the server's TIME and the grace 0.
-- Reply: when admitted, one integer, resetAfterMs * base + remaining, if remaining <
-- base and the sum is below 2^53 (exact in a double), else the table remaining,
-- resetAfterMs; when refused, the table -1 - remaining, retryAfterMs, resetAfterMs
-- (decide.lua's outcome of one policy). A table reply costs Redis about 4,000
-- instructions (it is searched for err, ok, double and other fields, then each item
-- converted), an integer about 600.
--
-- Each ARGV item costs Redis about 1,000 instructions before the body runs (a Lua
-- string and a slot in ARGV, whose table grows by doubling): one item, not six.
-- In the function library SPECS maps a spec text to its numbers and NUM the
-- seconds of TIME (they change once a second): table lookups, not tonumber.

local call = redis.call
local spec = ARGV[1]
-- below is 2^53 / base: a reset below it packs with any remaining below base.
local p1, p2, p3, cost, base, below
local sp = SPECS and SPECS[spec]
if sp then
  p1, p2, p3, cost, base, below = sp[1], sp[2], sp[3], sp[4], sp[5], sp[6]
else
  local a, b, c, d, e = string.match(spec, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  p1, p2, p3, cost, base = tonumber(a), tonumber(b), tonumber(c), tonumber(d), tonumber(e)
  below = 2 ^ 53 / base
  if SPEC_KEEP then SPEC_KEEP(spec, { p1, p2, p3, cost, base, below }) end
end
-- now_ms written out: effect replication first (Redis before 7), then the time: the
-- server's TIME, its seconds through the memo, its microseconds by Lua's own coercion
-- (the same strtod as tonumber, without the call).
if not redis.REDIS_VERSION_NUM and redis.replicate_commands then redis.replicate_commands() end
local now, grace
if ARGV[2] then
  now, grace = tonumber(ARGV[2]), tonumber(ARGV[3])
else
  local t = call('TIME')
  local s = t[1]
  local sec = NUM and NUM[s]
  if not sec then sec = (NUM_MEMO or tonumber)(s) end
  now, grace = sec * 1000 + t[2] / 1000, 0
end
local key = KEYS[1]
local raw = call('GET', key)
local a = ALG[KIND] or alg(KIND)
local ok, rem, retry, reset
if a.step then
  -- A kind with step decides on the stored string (no tables); it returns the state to keep.
  local w
  ok, rem, retry, reset, w = a.step(raw, now, cost, p1, p2, p3)
  if w then
    if reset > 0 then
      call('PSETEX', key, string.format('%d', reset + grace), w)
    else
      call('DEL', key)
    end
  end
else
  local st = nil
  if raw then st = parse(raw) end
  local nx, rebased
  ok, rem, retry, reset, nx, rebased = a.eval(st, now, cost, p1, p2, p3)
  -- Kept: an admitted cost, or a state rebased after the clock went back. As decide.lua's
  -- store: a TTL of resetMs (+ grace), or no key when the state holds no information.
  if (ok and cost > 0) or rebased then
    if reset > 0 and #nx > 0 then
      call('PSETEX', key, string.format('%d', reset + grace), serialize(nx))
    else
      call('DEL', key)
    end
  end
end
if ok then
  if rem < base and reset < below and rem % 1 == 0 and reset % 1 == 0 then return reset * base + rem end
  return { rem, reset }
end
return { -1 - rem, retry, reset }
