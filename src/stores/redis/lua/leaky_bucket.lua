-- leaky_bucket.lua: the leaky bucket as a meter ('lb'); twin of src/core/leaky-bucket.ts.
-- Params: capacity, leakRate (per second). State: level, updatedAtMs.

LOAD['lb'] = function()
  local ceil, floor, pack, unpack = math.ceil, math.floor, struct.pack, struct.unpack
  -- level_at returns the level of the state (level counted at at) at t >= at, before the floor at 0.
  local function level_at(level, at, t, rate)
    if t > at then return level - ((t - at) * rate) / 1000 end
    return level
  end
  -- wait returns the smallest whole r >= 0 at which the state passes level + add <= limit, given
  -- has, its level at now (leakyWaitMs).
  local function wait(level, at, now, has, add, limit, rate, ms_per_unit, full)
    if has + add <= limit then return 0 end
    local x = (has + add - limit) * ms_per_unit
    local a = now
    if now < 0 then a = -now end
    local g = (a + full) * WAIT_GUARD
    local r = ceil(x)
    local d = r - x
    if x > 0 and d > g and (d < 1 - g or r == 1) then return r end
    -- settleSide: just below (or on) r, just above r - 1, or not positive.
    if not (x > 0) then
      r = 1
    elseif d <= g then
      if level_at(level, at, now + r, rate) + add <= limit then return r end
      r = r + 1
    else
      if not (level_at(level, at, now + (r - 1), rate) + add <= limit) then return r end
      r = r - 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and level_at(level, at, now + (r - 1), rate) + add <= limit do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not (level_at(level, at, now + r, rate) + add <= limit) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  local eval = function(st, now, cost, capacity, rate)
    local ms_per_unit = 1000 / rate
    local full = capacity * ms_per_unit
    -- The state kept if denied: as stored, or rebased to now when its time is ahead.
    local kept_level = 0
    local kept_at = now
    local rebased = false
    if st then
      kept_level = st[1]
      kept_at = st[2]
      if kept_at > now then
        kept_at = now
        rebased = true
      end
    end
    local has = level_at(kept_level, kept_at, now, rate)
    -- A state empty within EPSILON at now is the same as no state (the memory store drops it as idle).
    if st and has <= EPSILON then
      kept_level = 0
      kept_at = now
      has = 0
    end
    local level = has
    if has < 0 then level = 0 end
    local filled = level + cost
    if filled <= capacity + EPSILON then
      local reset
      if cost > 0 then
        reset = wait(filled, now, now, filled, 0, EPSILON, rate, ms_per_unit, full)
      else
        reset = wait(kept_level, kept_at, now, has, 0, EPSILON, rate, ms_per_unit, full)
      end
      return true, floor_tokens(capacity - filled), 0, reset, { filled, now }, rebased
    end
    local nx = nil
    if rebased then nx = { kept_level, kept_at } end
    return false, floor_tokens(capacity - level),
      wait(kept_level, kept_at, now, has, cost, capacity + EPSILON, rate, ms_per_unit, full),
      wait(kept_level, kept_at, now, has, 0, EPSILON, rate, ms_per_unit, full), nx, rebased
  end
  return {
    eval = eval,
    -- step is eval on the stored string (raw, or false for no key), as the token
    -- bucket's: a cost above 0 admitted on a state not ahead of now is eval's admitted
    -- branch written out, with no table and no Lua function call (the wait's settling,
    -- rarely needed, is wait itself); anything else is eval.
    step = function(raw, now, cost, capacity, rate)
      if cost > 0 and (not raw or #raw == 16) then
        local level, at = 0, now
        if raw then level, at = unpack('<dd', raw) end
        if not (at > now) then
          if now > at then level = level - ((now - at) * rate) / 1000 end
          -- A state empty within EPSILON at now is the same as no state.
          if raw and level <= EPSILON then level = 0 end
          if level < 0 then level = 0 end
          local filled = level + cost
          if filled <= capacity + EPSILON then
            -- reset is wait(filled, now, now, filled, 0, EPSILON, ...): its estimate when clear of a whole ms.
            local reset = 0
            if not (filled + 0 <= EPSILON) then
              local ms_per_unit = 1000 / rate
              local x = (filled + 0 - EPSILON) * ms_per_unit
              local a = now
              if now < 0 then a = -now end
              local g = (a + capacity * ms_per_unit) * WAIT_GUARD
              -- ceil(x) by % (an operation, not a call): exact for x >= 0; x <= 0 is settled by wait.
              reset = x - x % 1
              if reset < x then reset = reset + 1 end
              local d = reset - x
              if not (x > 0 and d > g and (d < 1 - g or reset == 1)) then
                reset = wait(filled, now, now, filled, 0, EPSILON, rate, ms_per_unit, capacity * ms_per_unit)
              end
            end
            -- floor_tokens by %: exact for a sum >= 0; below 0 it is 0 either way.
            local rem = capacity - filled + EPSILON
            rem = rem - rem % 1
            if not (rem > 0) then rem = 0 end
            return true, rem, 0, reset, pack('<dd', filled, now)
          end
        end
      end
      local st = nil
      if raw then st = parse(raw) end
      local ok, rem, retry, reset, nx, rebased = eval(st, now, cost, capacity, rate)
      if (ok and cost > 0) or rebased then return ok, rem, retry, reset, serialize(nx) end
      return ok, rem, retry, reset, nil
    end,
    refund = function(st, now, cost, capacity, rate)
      local level = level_at(st[1], st[2], now, rate) - cost
      if level < 0 then level = 0 end
      return { level, now }
    end,
    -- migrate (migrateLeaky): available is the old capacity minus the level at now.
    migrate = function(L, f1, f2, _f3, st, o, _len, now, strat, capacity)
      local level = level_at(st[o + 1], st[o + 2], now, f2)
      if level < 0 then level = 0 end
      local available = f1 - level
      if L.full(available, f1) then return nil end
      return { capacity - L.avail(strat, available, f1, capacity), now }
    end,
  }
end
