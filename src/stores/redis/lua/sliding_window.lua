-- sliding_window.lua: the weighted two-window counter ('sw'); twin of src/core/sliding-window.ts.
-- Params: limit, windowMs. State: windowStartMs, previous, current.

LOAD['sw'] = function()
  -- roll moves the state to now and returns windowStart, previous, current, rebased.
  local function roll(st, now, window)
    if not st then return aligned_start(now, window), 0, 0, false end
    local window_start = st[1]
    local end_ms = window_start + window
    if now < window_start then
      -- The current window starts now, keeping both counts.
      return now, st[2], st[3], true
    end
    if now < end_ms then return window_start, st[2], st[3], false end
    -- The next window, in this state's phase.
    if now < end_ms + window then return end_ms, st[3], 0, false end
    return aligned_start(now, window), 0, 0, false
  end
  -- estimate_at is eval's estimate of the state at t >= window_start (estimateAt).
  local function estimate_at(window_start, previous, current, t, window)
    local end_ms = window_start + window
    if t < end_ms then return (previous * (window - (t - window_start))) / window + current end
    if t < end_ms + window then return (current * (window - (t - end_ms))) / window + 0 end
    return 0
  end
  -- full_at is idle's test for the state at t >= window_start (fullAt).
  local function full_at(window_start, previous, current, t, window)
    local end_ms = window_start + window
    if t < end_ms then return previous <= 0 and current <= 0 end
    return t >= end_ms + window or current <= 0
  end
  -- reset_ms returns the smallest whole r >= 0 at which the state is full (resetMs).
  local function reset_ms(window_start, previous, current, now, window)
    if full_at(window_start, previous, current, now, window) then return 0 end
    local span = window
    if current > 0 then span = 2 * window end
    local r = ceil_ms(window_start + span - now)
    if r < 1 then r = 1 end
    local i = 0
    while i < FIX_STEPS and r > 1 and full_at(window_start, previous, current, now + (r - 1), window) do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not full_at(window_start, previous, current, now + r, window) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  return {
    eval = function(st, now, cost, limit, window)
      local window_start, previous, current, rebased = roll(st, now, window)
      local estimate = (previous * (window - (now - window_start))) / window + current
      -- A cost of 0 is always allowed, even when a rebase put the estimate above the limit.
      if estimate + cost <= limit + EPSILON or cost == 0 then
        local used = current + cost
        return true, floor_tokens(limit - (estimate + cost)), 0, reset_ms(window_start, previous, used, now, window),
          { window_start, previous, used }, rebased
      end
      -- The state kept: as stored (which rolls as above at every later time), or rebased.
      local ks, kp, kc = window_start, previous, current
      if st and not rebased then ks, kp, kc = st[1], st[2], st[3] end
      local wait
      if current + cost <= limit then
        -- Wait within this window until enough of the previous window has slid out.
        wait = window_start + window - ((limit + EPSILON - current - cost) * window) / previous - now
      else
        -- Wait into the next window, where this window becomes the previous one.
        local into_next = window - ((limit + EPSILON - cost) * window) / current
        if into_next < 0 then into_next = 0 end
        wait = window_start + window + into_next - now
      end
      -- Corrected against the admission test itself, at the times themselves.
      local r = math.ceil(wait)
      if r < 1 then r = 1 end
      local i = 0
      while i < FIX_STEPS and r > 1 and estimate_at(ks, kp, kc, now + (r - 1), window) + cost <= limit + EPSILON do
        r = r - 1
        i = i + 1
      end
      i = 0
      while i < FIX_STEPS and not (estimate_at(ks, kp, kc, now + r, window) + cost <= limit + EPSILON) do
        r = r + 1
        i = i + 1
      end
      local nx = nil
      if rebased then nx = { ks, kp, kc } end
      return false, floor_tokens(limit - estimate), r, reset_ms(ks, kp, kc, now, window), nx, rebased
    end,
    refund = function(st, now, cost, limit, window)
      local window_start, previous, current = roll(st, now, window)
      current = current - cost
      if current < 0 then current = 0 end
      return { window_start, previous, current }
    end,
  }
end
