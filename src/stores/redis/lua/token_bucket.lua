-- token_bucket.lua: the token bucket, smooth ('tb') and stepped ('ts'); twin of src/core/token-bucket.ts.

-- Smooth bucket. Params: capacity, refillRate (tokens per second). State: tokens, updatedAtMs.
LOAD['tb'] = function() return {
  eval = function(st, now, cost, capacity, rate)
    local tokens = capacity
    local at = now
    if st then
      tokens = st[1]
      at = st[2]
      if now > at then
        tokens = tokens + ((now - at) * rate) / 1000
        if tokens > capacity then tokens = capacity end
        at = now
      end
    end
    -- After a clock went backwards, refill resumes only once now passes at.
    local lag = 0
    if at > now then lag = at - now end
    if tokens + EPSILON >= cost then
      local left = tokens - cost
      local reset = 0
      if left < capacity then reset = ceil_ms(lag + ((capacity - left) * 1000) / rate) end
      return true, floor_tokens(left), 0, reset, { left, at }
    end
    return false, floor_tokens(tokens), ceil_ms(lag + ((cost - tokens) * 1000) / rate),
      ceil_ms(lag + ((capacity - tokens) * 1000) / rate), nil
  end,
  refund = function(st, now, cost, capacity, rate)
    local tokens = st[1]
    local at = st[2]
    if now > at then
      tokens = tokens + ((now - at) * rate) / 1000
      at = now
    end
    tokens = tokens + cost
    if tokens > capacity then tokens = capacity end
    return { tokens, at }
  end,
} end

-- Stepped bucket. Params: capacity, refillAmount, refillIntervalMs. State: tokens, lastRefillMs.
LOAD['ts'] = function() return {
  eval = function(st, now, cost, capacity, amount, interval)
    local tokens = capacity
    local last = now
    if st then
      tokens = st[1]
      last = st[2]
      if now > last then
        local steps = math.floor((now - last) / interval)
        if steps > 0 then
          tokens = tokens + steps * amount
          if tokens > capacity then tokens = capacity end
          last = last + steps * interval
        end
      end
    end
    if tokens >= cost then
      local left = tokens - cost
      local reset = 0
      if left < capacity then
        reset = ceil_ms(last + math.ceil((capacity - left) / amount) * interval - now)
      end
      return true, left, 0, reset, { left, last }
    end
    return false, tokens, ceil_ms(last + math.ceil((cost - tokens) / amount) * interval - now),
      ceil_ms(last + math.ceil((capacity - tokens) / amount) * interval - now), nil
  end,
  refund = function(st, now, cost, capacity, amount, interval)
    local tokens = st[1]
    local last = st[2]
    if now > last then
      local steps = math.floor((now - last) / interval)
      tokens = tokens + steps * amount
      last = last + steps * interval
    end
    tokens = tokens + cost
    if tokens > capacity then tokens = capacity end
    return { tokens, last }
  end,
} end
