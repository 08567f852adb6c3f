-- decide.lua: the floodgate entry point: a batch of decisions, each all-or-nothing, in one atomic call.
--
-- KEYS: one key per policy of each decision, in order.
-- ARGV:
--   [1] nowMs        the time in ms, or '' to read the server's TIME
--   [2] graceMs      whole ms added to every TTL (0 with the server clock)
--   [3] count        how many decisions follow
-- then, per decision:
--   op               'c' consume (cost 0 is a peek), 'r' refund, 'd' reset
--   cost             whole number of units
--   n                number of policies (one key each)
-- then, per policy:
--   kind             'tb' 'ts' 'gc' 'lb' 'fw' 'sw' 'sl'
--   p1 p2 p3         the policy's params (unused ones are '0')
--
-- Reply: a flat array of integers. Per 'c' decision: allowed (1/0), then per
-- policy: allowed, remaining, retryAfterMs, resetAfterMs. Per 'r'/'d': 1.

if redis.replicate_commands then redis.replicate_commands() end

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
else
  now = tonumber(ARGV[1])
end
local grace = tonumber(ARGV[2])
local count = tonumber(ARGV[3])

-- store writes a state with a TTL of resetMs (+ grace), or deletes the key when
-- the state holds no information.
local function store(key, st, reset_ms)
  local ttl = reset_ms + grace
  if reset_ms > 0 and #st > 0 then
    redis.call('SET', key, serialize(st), 'PX', ttl)
  else
    redis.call('DEL', key)
  end
end

local out = {}
local o = 0
local a = 4
local k = 1
for _ = 1, count do
  local op = ARGV[a]
  local cost = tonumber(ARGV[a + 1])
  local n = tonumber(ARGV[a + 2])
  a = a + 3
  local algs, p1, p2, p3, keys = {}, {}, {}, {}, {}
  for i = 1, n do
    algs[i] = ALG[ARGV[a]]
    p1[i] = tonumber(ARGV[a + 1])
    p2[i] = tonumber(ARGV[a + 2])
    p3[i] = tonumber(ARGV[a + 3])
    keys[i] = KEYS[k]
    a = a + 4
    k = k + 1
  end
  if op == 'c' then
    local states, oks, rems, retries, resets, nexts = {}, {}, {}, {}, {}, {}
    local all = true
    for i = 1, n do
      local raw = redis.call('GET', keys[i])
      local st = nil
      if raw then st = parse(raw) end
      states[i] = st
      oks[i], rems[i], retries[i], resets[i], nexts[i] = algs[i].eval(st, now, cost, p1[i], p2[i], p3[i])
      if not oks[i] then all = false end
    end
    o = o + 1
    if all then
      out[o] = 1
      if cost > 0 then
        for i = 1, n do store(keys[i], nexts[i], resets[i]) end
      end
    else
      out[o] = 0
      -- Denied: nothing is taken; a policy that would have admitted the cost is
      -- reported as it stands (a peek).
      for i = 1, n do
        if oks[i] then
          oks[i], rems[i], retries[i], resets[i] = algs[i].eval(states[i], now, 0, p1[i], p2[i], p3[i])
        end
      end
    end
    for i = 1, n do
      if oks[i] then out[o + 1] = 1 else out[o + 1] = 0 end
      out[o + 2] = rems[i]
      out[o + 3] = retries[i]
      out[o + 4] = resets[i]
      o = o + 4
    end
  elseif op == 'r' then
    for i = 1, n do
      local raw = redis.call('GET', keys[i])
      if raw then
        local nx = algs[i].refund(parse(raw), now, cost, p1[i], p2[i], p3[i])
        if nx then
          -- A refund only brings the state closer to idle, so the key's current TTL
          -- still bounds it; keep the state (an idle-looking state can still differ
          -- from a fresh one, such as a stepped bucket's phase) until then.
          local _, _, _, reset = algs[i].eval(nx, now, 0, p1[i], p2[i], p3[i])
          local ttl = redis.call('PTTL', keys[i])
          if reset > 0 and reset + grace > ttl then ttl = reset + grace end
          if ttl > 0 and #nx > 0 then
            redis.call('SET', keys[i], serialize(nx), 'PX', ttl)
          else
            redis.call('DEL', keys[i])
          end
        end
      end
    end
    o = o + 1
    out[o] = 1
  else
    for i = 1, n do redis.call('DEL', keys[i]) end
    o = o + 1
    out[o] = 1
  end
end
return out
