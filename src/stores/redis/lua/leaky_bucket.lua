-- leaky_bucket.lua: the leaky bucket as a meter ('lb'); twin of src/core/leaky-bucket.ts.
-- Params: capacity, leakRate (per second). State: level, updatedAtMs.

LOAD['lb'] = function() return {
  eval = function(st, now, cost, capacity, rate)
    local level = 0
    local at = now
    if st then
      level = st[1]
      at = st[2]
      if now > at then
        level = level - ((now - at) * rate) / 1000
        if level < 0 then level = 0 end
        at = now
      end
    end
    local filled = level + cost
    -- After a clock went backwards, draining resumes only once now passes at.
    local lag = 0
    if at > now then lag = at - now end
    if filled <= capacity + EPSILON then
      local reset = 0
      if filled > 0 then reset = ceil_ms(lag + (filled * 1000) / rate) end
      return true, floor_tokens(capacity - filled), 0, reset, { filled, at }
    end
    return false, floor_tokens(capacity - level), ceil_ms(lag + ((filled - capacity) * 1000) / rate),
      ceil_ms(lag + (level * 1000) / rate), nil
  end,
  refund = function(st, now, cost, capacity, rate)
    local level = st[1]
    local at = st[2]
    if now > at then
      level = level - ((now - at) * rate) / 1000
      at = now
    end
    level = level - cost
    if level < 0 then level = 0 end
    return { level, at }
  end,
} end
