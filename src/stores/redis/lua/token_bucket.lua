-- token_bucket.lua: the token bucket, smooth ('tb') and stepped ('ts'); twin of src/core/token-bucket.ts.

-- Smooth bucket. Params: capacity, refillRate (tokens per second). State: tokens, updatedAtMs.
LOAD['tb'] = function()
  local ceil, floor, pack, unpack = math.ceil, math.floor, struct.pack, struct.unpack
  -- tokens_at returns the tokens of the state (tokens counted at at) at t >= at, before the cap (smoothTokensAt).
  local function tokens_at(tokens, at, t, rate)
    if t > at then return tokens + ((t - at) * rate) / 1000 end
    return tokens
  end
  -- wait returns the smallest whole r >= 0 at which the state holds `want` tokens, given has,
  -- its tokens at now (smoothWaitMs and smoothFixMs).
  local function wait(tokens, at, now, has, want, rate, ms_per_token, full)
    if has + EPSILON >= want then return 0 end
    local x = (want - EPSILON - has) * ms_per_token
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
      if tokens_at(tokens, at, now + r, rate) + EPSILON >= want then return r end
      r = r + 1
    else
      if not (tokens_at(tokens, at, now + (r - 1), rate) + EPSILON >= want) then return r end
      r = r - 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and tokens_at(tokens, at, now + (r - 1), rate) + EPSILON >= want do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and tokens_at(tokens, at, now + r, rate) + EPSILON < want do
      r = r + 1
      i = i + 1
    end
    return r
  end
  -- decide is eval on a state's two numbers (s: a state exists; tokens t1 counted at t2)
  -- rather than a table, so that step needs no table: it returns ok, remaining,
  -- retryAfterMs, resetAfterMs, the next state's two numbers (nil: none) and rebased.
  local function decide(s, t1, t2, now, cost, capacity, rate)
    local ms_per_token = 1000 / rate
    local full = capacity * ms_per_token
    -- The state kept if denied: as stored, or rebased to now when its time is ahead.
    local kept_tokens = capacity
    local kept_at = now
    local rebased = false
    if s then
      kept_tokens = t1
      kept_at = t2
      if kept_at > now then
        kept_at = now
        rebased = true
      end
    end
    local has = tokens_at(kept_tokens, kept_at, now, rate)
    -- A state full within EPSILON at now is the same as no state (the memory store drops it as idle).
    if s and has + EPSILON >= capacity then
      kept_tokens = capacity
      kept_at = now
      has = capacity
    end
    local tokens = has
    if has > capacity then tokens = capacity end
    if tokens + EPSILON < cost then
      local n1, n2 = nil, nil
      if rebased then n1, n2 = kept_tokens, kept_at end
      return false, floor_tokens(has), wait(kept_tokens, kept_at, now, has, cost, rate, ms_per_token, full),
        wait(kept_tokens, kept_at, now, has, capacity, rate, ms_per_token, full), n1, n2, rebased
    end
    local left = tokens - cost
    local reset
    if cost > 0 then
      reset = wait(left, now, now, left, capacity, rate, ms_per_token, full)
    else
      reset = wait(kept_tokens, kept_at, now, has, capacity, rate, ms_per_token, full)
    end
    return true, floor_tokens(left), 0, reset, left, now, rebased
  end
  return {
    eval = function(st, now, cost, capacity, rate)
      local ok, rem, retry, reset, n1, n2, rebased
      if st then
        ok, rem, retry, reset, n1, n2, rebased = decide(true, st[1], st[2], now, cost, capacity, rate)
      else
        ok, rem, retry, reset, n1, n2, rebased = decide(false, nil, nil, now, cost, capacity, rate)
      end
      if n1 then return ok, rem, retry, reset, { n1, n2 }, rebased end
      return ok, rem, retry, reset, nil, rebased
    end,
    -- step is eval on the stored string (raw, or false for no key) with no table: it
    -- returns ok, remaining, retryAfterMs, resetAfterMs, and the serialized next state
    -- when it is to be kept (an admitted cost, or rebased), else nil (see lib.lua's LOAD).
    -- The common case, a cost above 0 admitted on a state not ahead of now, is decide's
    -- admitted branch written out, with no function call but the C ones (the wait's
    -- settling, rarely needed, is wait itself); anything else is decide.
    step = function(raw, now, cost, capacity, rate)
      local s, t1, t2 = false, nil, nil
      if raw then
        s = true
        if #raw == 16 then
          t1, t2 = unpack('<dd', raw)
        else
          local st = parse(raw)
          t1, t2 = st[1], st[2]
        end
      end
      if cost > 0 and not (s and t2 > now) then
        -- The tokens at now, capped (a state full within EPSILON, or none, is full).
        local tokens = capacity
        if s then
          local has = t1
          if now > t2 then has = t1 + ((now - t2) * rate) / 1000 end
          if not (has + EPSILON >= capacity) then tokens = has end
        end
        if not (tokens + EPSILON < cost) then
          local left = tokens - cost
          -- reset is wait(left, now, now, left, capacity, ...): its estimate when clear of a whole ms.
          local reset = 0
          if not (left + EPSILON >= capacity) then
            local ms_per_token = 1000 / rate
            local x = (capacity - EPSILON - left) * ms_per_token
            local a = now
            if now < 0 then a = -now end
            local g = (a + capacity * ms_per_token) * WAIT_GUARD
            -- ceil(x) by % (an operation, not a call): exact for x >= 0; x <= 0 is settled by wait.
            reset = x - x % 1
            if reset < x then reset = reset + 1 end
            local d = reset - x
            if not (x > 0 and d > g and (d < 1 - g or reset == 1)) then
              reset = wait(left, now, now, left, capacity, rate, ms_per_token, capacity * ms_per_token)
            end
          end
          -- floor_tokens(left) by %: exact for a sum >= 0; below 0 it is 0 either way.
          local rem = left + EPSILON
          rem = rem - rem % 1
          if not (rem > 0) then rem = 0 end
          return true, rem, 0, reset, pack('<dd', left, now)
        end
      end
      local ok, rem, retry, reset, n1, n2, rebased = decide(s, t1, t2, now, cost, capacity, rate)
      if (ok and cost > 0) or rebased then return ok, rem, retry, reset, pack('<dd', n1, n2) end
      return ok, rem, retry, reset, nil
    end,
    refund = function(st, now, cost, capacity, rate)
      local tokens = tokens_at(st[1], st[2], now, rate) + cost
      if tokens > capacity then tokens = capacity end
      return { tokens, now }
    end,
    -- migrate carries a live state written with params f1 f2 f3 (inner state from st[o + 1])
    -- to this bucket's params (migrateSmooth): the tokens at now, then the strategy.
    migrate = function(L, f1, f2, _f3, st, o, _len, now, strat, capacity)
      local available = tokens_at(st[o + 1], st[o + 2], now, f2)
      if available > f1 then available = f1 end
      if L.full(available, f1) then return nil end
      return { L.avail(strat, available, f1, capacity), now }
    end,
  }
end

-- Stepped bucket. Params: capacity, refillAmount, refillIntervalMs. State: tokens, lastRefillMs.
LOAD['ts'] = function()
  local ceil, floor = math.ceil, math.floor
  -- tokens_at returns the tokens of the state (tokens, last refill at last) at t >= last, before the cap.
  local function tokens_at(tokens, last, t, amount, interval)
    if t > last then return tokens + floor((t - last) / interval) * amount end
    return tokens
  end
  -- wait returns the smallest whole r >= 0 at which the state holds `want` tokens, given has,
  -- its tokens at now (steppedWaitMs).
  local function wait(tokens, last, now, has, want, amount, interval, full)
    if has >= want then return 0 end
    local x = last + ceil((want - tokens) / amount) * interval - now
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
      if tokens_at(tokens, last, now + r, amount, interval) >= want then return r end
      r = r + 1
    else
      if not (tokens_at(tokens, last, now + (r - 1), amount, interval) >= want) then return r end
      r = r - 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and tokens_at(tokens, last, now + (r - 1), amount, interval) >= want do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and tokens_at(tokens, last, now + r, amount, interval) < want do
      r = r + 1
      i = i + 1
    end
    return r
  end
  return {
    eval = function(st, now, cost, capacity, amount, interval)
      local full = ceil(capacity / amount) * interval
      -- The state kept if denied: as stored, or rebased to now when its time is ahead.
      -- A state full at now is the same as no state (steppedBucket): its phase restarts at now.
      local kept_tokens = capacity
      local kept_last = now
      local rebased = false
      if st and tokens_at(st[1], st[2], now, amount, interval) < capacity then
        kept_tokens = st[1]
        kept_last = st[2]
        if kept_last > now then
          kept_last = now
          rebased = true
        end
      end
      local tokens = kept_tokens
      local last = kept_last
      if now > last then
        local steps = floor((now - last) / interval)
        if steps > 0 then
          tokens = tokens + steps * amount
          if tokens > capacity then tokens = capacity end
          last = last + steps * interval
        end
      end
      if tokens >= cost then
        local left = tokens - cost
        local reset
        if cost > 0 then
          reset = wait(left, last, now, tokens_at(left, last, now, amount, interval), capacity, amount, interval, full)
        else
          reset = wait(kept_tokens, kept_last, now, tokens, capacity, amount, interval, full)
        end
        return true, left, 0, reset, { left, last }, rebased
      end
      local nx = nil
      if rebased then nx = { kept_tokens, kept_last } end
      return false, tokens, wait(kept_tokens, kept_last, now, tokens, cost, amount, interval, full),
        wait(kept_tokens, kept_last, now, tokens, capacity, amount, interval, full), nx, rebased
    end,
    refund = function(st, now, cost, capacity, amount, interval)
      local tokens = st[1]
      local last = st[2]
      if now > last then
        local steps = floor((now - last) / interval)
        tokens = tokens + steps * amount
        last = last + steps * interval
      else
        -- Rebased when the state's time is ahead (the clock went back).
        last = now
      end
      tokens = tokens + cost
      if tokens > capacity then tokens = capacity end
      return { tokens, last }
    end,
    -- migrate (migrateStepped): the whole tokens after the old steps; the last step's time is
    -- kept when less than one new interval has passed since it, else the interval starts now.
    migrate = function(L, f1, f2, f3, st, o, _len, now, strat, capacity, _amount, interval)
      local tokens = st[o + 1]
      local last = st[o + 2]
      if last > now then
        last = now
      else
        local steps = floor((now - last) / f3)
        tokens = tokens + steps * f2
        last = last + steps * f3
      end
      local available = tokens
      if available > f1 then available = f1 end
      if L.full(available, f1) then return nil end
      if not (now - last < interval) then last = now end
      return { L.whole(L.avail(strat, available, f1, capacity)), last }
    end,
  }
end
