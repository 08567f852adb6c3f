-- leaky_bucket.lua: the leaky bucket as a meter ('lb'); twin of src/core/leaky-bucket.ts.
-- Params: capacity, leakRate (per second). State: level, updatedAtMs.

LOAD['lb'] = function()
  -- level_at returns the level of the state (level counted at at) at t >= at, before the floor at 0.
  local function level_at(level, at, t, rate)
    if t > at then return level - ((t - at) * rate) / 1000 end
    return level
  end
  -- room_ms returns the smallest whole r >= 1 at which cost fits (roomMs).
  local function room_ms(level, at, now, cost, guess, capacity, rate)
    local r = math.ceil(guess)
    if r < 1 then r = 1 end
    local i = 0
    while i < FIX_STEPS and r > 1 and level_at(level, at, now + (r - 1), rate) + cost <= capacity + EPSILON do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not (level_at(level, at, now + r, rate) + cost <= capacity + EPSILON) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  -- empty_ms returns the smallest whole r >= 0 at which the bucket is empty (emptyMs).
  local function empty_ms(level, at, now, rate)
    local cur = level_at(level, at, now, rate)
    if cur <= EPSILON then return 0 end
    local r = math.ceil(((cur - EPSILON) * 1000) / rate)
    if r < 1 then r = 1 end
    local i = 0
    while i < FIX_STEPS and r > 1 and level_at(level, at, now + (r - 1), rate) <= EPSILON do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not (level_at(level, at, now + r, rate) <= EPSILON) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  return {
    eval = function(st, now, cost, capacity, rate)
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
      local level = level_at(kept_level, kept_at, now, rate)
      if level < 0 then level = 0 end
      local filled = level + cost
      if filled <= capacity + EPSILON then
        local reset
        if cost > 0 then
          reset = empty_ms(filled, now, now, rate)
        else
          reset = empty_ms(kept_level, kept_at, now, rate)
        end
        return true, floor_tokens(capacity - filled), 0, reset, { filled, now }, rebased
      end
      local nx = nil
      if rebased then nx = { kept_level, kept_at } end
      return false, floor_tokens(capacity - level),
        room_ms(kept_level, kept_at, now, cost, ((filled - capacity - EPSILON) * 1000) / rate, capacity, rate),
        empty_ms(kept_level, kept_at, now, rate), nx, rebased
    end,
    refund = function(st, now, cost, capacity, rate)
      local level = level_at(st[1], st[2], now, rate) - cost
      if level < 0 then level = 0 end
      return { level, now }
    end,
  }
end
