-- lone.lua: one consume (or peek, cost 0) of one policy, the common call at low concurrency.
--
-- scripts/gen-lua.ts builds one such script per policy kind: `local KIND = '<kind>'`,
-- then lib.lua, the kind's math file and this file. A dedicated script runs only
-- its kind's definitions and no batch decoding: a lone call costs Redis about
-- half of decide.lua's CPU. The math is the same code as decide.lua's. In the
-- function library this file is the body of lone(KIND, KEYS, ARGV), shared by
-- every kind's function (fg_<hash>_lone_<kind>).
--
-- KEYS: the policy's key.
-- ARGV: nowMs ('' to read the server's TIME), graceMs, p1, p2, p3, cost.
-- Reply: remaining, resetAfterMs when admitted; -1 - remaining, retryAfterMs,
-- resetAfterMs when refused (decide.lua's outcome of one policy).

local num = NUM_MEMO or tonumber
local now = now_ms(ARGV[1])
local cost = num(ARGV[6])
local key = KEYS[1]
local raw = redis.call('GET', key)
local a = alg(KIND)
local ok, rem, retry, reset
if a.step then
  -- A kind with step decides on the stored string (no tables); it returns the state to keep.
  local w
  ok, rem, retry, reset, w = a.step(raw, now, cost, num(ARGV[3]), num(ARGV[4]), num(ARGV[5]))
  if w then
    if reset > 0 then
      redis.call('PSETEX', key, string.format('%d', reset + num(ARGV[2])), w)
    else
      redis.call('DEL', key)
    end
  end
else
  local st = nil
  if raw then st = parse(raw) end
  local nx, rebased
  ok, rem, retry, reset, nx, rebased =
    a.eval(st, now, cost, num(ARGV[3]), num(ARGV[4]), num(ARGV[5]))
  -- Kept: an admitted cost, or a state rebased after the clock went back. As decide.lua's
  -- store: a TTL of resetMs (+ grace), or no key when the state holds no information.
  if (ok and cost > 0) or rebased then
    if reset > 0 and #nx > 0 then
      redis.call('PSETEX', key, string.format('%d', reset + num(ARGV[2])), serialize(nx))
    else
      redis.call('DEL', key)
    end
  end
end
if ok then return { rem, reset } end
return { -1 - rem, retry, reset }
