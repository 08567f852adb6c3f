-- block.lua: blocks and refusal counts of one key in one scope (RateLimiter.block, autoBlock).
--
-- KEYS: [1] the block key, [2] the refusal-count key (one hash slot: the user key's tag).
-- ARGV:
--   [1] nowMs        the time in ms, or '' to read the server's TIME
--   [2] graceMs      whole ms added to every TTL (0 with the server clock)
--   [3] op           'g' get the block, 'b' block, 'u' unblock, 'n' count a refusal
--   [4] a            'b': durationMs; 'n': refusals that block
--   [5] withinMs     'n': the period of the count, from its first refusal
--   [6] blockMs      'n': how long the block lasts
-- Reply: the whole ms left of the key's block after the op (0: not blocked).
--
-- The block key holds its end time (one double, as states are stored) and lives until
-- then: its TTL covers the block. The count holds [startMs, endMs, count] until endMs.

local now = now_ms(ARGV[1])
local grace = tonumber(ARGV[2])
local op = ARGV[3]

-- left returns the whole ms left of the block at KEYS[1].
local function left()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return 0 end
  return until_ms(parse(raw)[1], now)
end

-- block sets the block's end to now + d unless a later end is set already.
local function block(d)
  local stop = now + d
  local raw = redis.call('GET', KEYS[1])
  if raw and parse(raw)[1] >= stop then return until_ms(parse(raw)[1], now) end
  local ms = until_ms(stop, now)
  redis.call('SET', KEYS[1], serialize({ stop }), 'PX', ms + grace)
  return ms
end

if op == 'g' then return left() end
if op == 'b' then return block(tonumber(ARGV[4])) end
if op == 'u' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
-- 'n': count a refusal; at the rule's count within its period, block.
local refusals = tonumber(ARGV[4])
local within = tonumber(ARGV[5])
local raw = redis.call('GET', KEYS[2])
local start, stop, count = now, now + within, 0
if raw then
  local st = parse(raw)
  if now >= st[1] and now < st[2] then start, stop, count = st[1], st[2], st[3] end
end
count = count + 1
if count >= refusals then
  redis.call('DEL', KEYS[2])
  return block(tonumber(ARGV[6]))
end
redis.call('SET', KEYS[2], serialize({ start, stop, count }), 'PX', until_ms(stop, now) + grace)
return left()
