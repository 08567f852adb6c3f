-- sliding_window.lua: the weighted two-window counter ('sw'); twin of src/core/sliding-window.ts.
-- Params: limit, windowMs. State: windowStartMs, previous, current.

LOAD['sw'] = function()
  local ceil, floor, pack, unpack = math.ceil, math.floor, struct.pack, struct.unpack
  -- aligned_start returns the start of the aligned window holding now, never above it (alignedStartMs).
  local function aligned_start(now, window)
    local start = floor(now / window) * window
    if start > now then return start - window end
    return start
  end
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
  -- fits_at is eval's admission test of cost for the state at t >= window_start (fitsAt).
  local function fits_at(window_start, previous, current, t, cost, limit, window)
    return estimate_at(window_start, previous, current, t, window) + cost <= limit + EPSILON
  end
  -- reset_ms returns the smallest whole r >= 0 at which the state is full (resetMs).
  local function reset_ms(window_start, previous, current, now, window)
    if previous <= 0 and current <= 0 then return 0 end
    if current > 0 then return until_ms(window_start + window + window, now) end
    return until_ms(window_start + window, now)
  end
  -- retry_ms returns the smallest whole r >= 1 at which cost fits the estimate of the state (retryMs).
  local function retry_ms(ws, previous, current, now, cost, wait, sliding, limit, window)
    local r = ceil(wait)
    if wait > 0 then
      local d = r - wait
      local a = now
      if now < 0 then a = -now end
      local g = ((a + 2 * window) * sliding + limit * window) * WAIT_GUARD
      if d * sliding <= g then
        -- Just below (or on) r: the answer is r or r + 1.
        if fits_at(ws, previous, current, now + r, cost, limit, window) then return r end
        r = r + 1
      elseif (1 - d) * sliding <= g and r > 1 then
        -- Just above r - 1: the answer is r - 1 or r.
        if not fits_at(ws, previous, current, now + (r - 1), cost, limit, window) then return r end
        r = r - 1
      else
        return r
      end
    else
      r = 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and fits_at(ws, previous, current, now + (r - 1), cost, limit, window) do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not fits_at(ws, previous, current, now + r, cost, limit, window) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  local eval = function(st, now, cost, limit, window)
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
    local within = current + cost <= limit
    if within then
      -- Wait within this window until enough of the previous window has slid out.
      wait = window_start + window - ((limit + EPSILON - current - cost) * window) / previous - now
    else
      -- Wait into the next window, where this window becomes the previous one.
      local into_next = window - ((limit + EPSILON - cost) * window) / current
      if into_next < 0 then into_next = 0 end
      wait = window_start + window + into_next - now
    end
    local sliding = current
    if within then sliding = previous end
    local nx = nil
    if rebased then nx = { ks, kp, kc } end
    return false, floor_tokens(limit - estimate), retry_ms(ks, kp, kc, now, cost, wait, sliding, limit, window),
      reset_ms(ks, kp, kc, now, window), nx, rebased
  end
  return {
    eval = eval,
    -- step is eval on the stored string (raw, or false for no key), as the token
    -- bucket's: a cost above 0 admitted on a state not ahead of now is eval's admitted
    -- branch written out, with no table and no Lua function call (until_ms's settling,
    -- rarely needed, is until_ms itself); anything else is eval.
    step = function(raw, now, cost, limit, window)
      if cost > 0 and (not raw or #raw == 24) then
        -- roll, written out: the state moved to now, unless it is ahead of now.
        local window_start, previous, current = nil, 0, 0
        local ahead = false
        if not raw then
          window_start = floor(now / window) * window
          if window_start > now then window_start = window_start - window end
        else
          local s1, s2, s3 = unpack('<ddd', raw)
          local end_ms = s1 + window
          if now < s1 then
            ahead = true
          elseif now < end_ms then
            window_start, previous, current = s1, s2, s3
          elseif now < end_ms + window then
            window_start, previous = end_ms, s3
          else
            window_start = floor(now / window) * window
            if window_start > now then window_start = window_start - window end
          end
        end
        if not ahead then
          local estimate = (previous * (window - (now - window_start))) / window + current
          if estimate + cost <= limit + EPSILON then
            local used = current + cost
            -- floor_tokens by % (an operation, not a call): exact for a sum >= 0; below 0 it is 0 either way.
            local rem = limit - (estimate + cost) + EPSILON
            rem = rem - rem % 1
            if not (rem > 0) then rem = 0 end
            -- reset_ms(window_start, previous, used, now, window), until_ms's estimate when exact.
            local reset = 0
            if not (previous <= 0 and used <= 0) then
              local end_ms = window_start + window
              if used > 0 then end_ms = window_start + window + window end
              -- ceil by %: exact for a wait >= 0; one <= 0 goes to until_ms.
              local x = end_ms - now
              reset = x - x % 1
              if reset < x then reset = reset + 1 end
              if not (reset > 0 and now + reset >= end_ms and now + (reset - 1) < end_ms) then
                reset = until_ms(end_ms, now)
              end
            end
            return true, rem, 0, reset, pack('<ddd', window_start, previous, used)
          end
        end
      end
      local st = nil
      if raw then st = parse(raw) end
      local ok, rem, retry, reset, nx, rebased = eval(st, now, cost, limit, window)
      if (ok and cost > 0) or rebased then return ok, rem, retry, reset, serialize(nx) end
      return ok, rem, retry, reset, nil
    end,
    refund = function(st, now, cost, limit, window)
      local window_start, previous, current = roll(st, now, window)
      current = current - cost
      if current < 0 then current = 0 end
      return { window_start, previous, current }
    end,
    -- migrate (migrateSliding): available is the old limit minus the estimate at now; with the
    -- length unchanged both counts are scaled to the new used share, else it is counted in the
    -- current window of the new length.
    migrate = function(L, f1, f2, _f3, st, o, _len, now, strat, limit, window)
      local start = st[o + 1]
      local previous = st[o + 2]
      local current = st[o + 3]
      local end_ms = start + f2
      if now < start then
        start = now
      elseif now >= end_ms + f2 then
        start = aligned_start(now, f2)
        previous = 0
        current = 0
      elseif now >= end_ms then
        start = end_ms
        previous = current
        current = 0
      end
      local estimate = (previous * (f2 - (now - start))) / f2 + current
      local available = f1 - estimate
      if L.full(available, f1) then return nil end
      local used = limit - L.avail(strat, available, f1, limit)
      if window == f2 then return { start, (previous * used) / estimate, (current * used) / estimate } end
      return { aligned_start(now, window), 0, used }
    end,
  }
end
