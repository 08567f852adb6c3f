-- fixed_window.lua: a counter per window ('fw'); twin of src/core/fixed-window.ts.
-- Params: limit, windowMs. State: windowStartMs, count; the window is [start, start + windowMs).

LOAD['fw'] = function()
  local ceil, floor, pack, unpack = math.ceil, math.floor, struct.pack, struct.unpack
  -- aligned_start returns the start of the aligned window holding now, never above it (alignedStartMs).
  local function aligned_start(now, window)
    local start = floor(now / window) * window
    if start > now then return start - window end
    return start
  end
  local eval = function(st, now, cost, limit, window)
    local window_start
    local count = 0
    local rebased = false
    if not st then
      window_start = aligned_start(now, window)
    else
      window_start = st[1]
      local end_ms = window_start + window
      if now < window_start then
        -- The clock went back: this window starts now, keeping its count.
        window_start = now
        count = st[2]
        rebased = true
      elseif now < end_ms then
        count = st[2]
      elseif now < end_ms + window then
        -- The next window, in this state's phase.
        window_start = end_ms
      else
        window_start = aligned_start(now, window)
      end
    end
    if count + cost <= limit then
      local used = count + cost
      local reset = 0
      if used > 0 then reset = until_ms(window_start + window, now) end
      return true, limit - used, 0, reset, { window_start, used }, rebased
    end
    local ends_in = until_ms(window_start + window, now)
    local nx = nil
    if rebased then nx = { window_start, count } end
    return false, limit - count, ends_in, ends_in, nx, rebased
  end
  return {
  eval = eval,
  -- step is eval on the stored string (raw, or false for no key), as the token bucket's:
  -- a cost above 0 admitted on a state not ahead of now is eval's admitted branch written
  -- out, with no table and no Lua function call (until_ms's settling, rarely needed, is
  -- until_ms itself); anything else is eval.
  step = function(raw, now, cost, limit, window)
    if cost > 0 and (not raw or #raw == 16) then
      local window_start, count = nil, 0
      local ahead = false
      if not raw then
        window_start = floor(now / window) * window
        if window_start > now then window_start = window_start - window end
      else
        local stored_start, stored_count = unpack('<dd', raw)
        local end_ms = stored_start + window
        if now < stored_start then
          ahead = true
        elseif now < end_ms then
          window_start = stored_start
          count = stored_count
        elseif now < end_ms + window then
          window_start = end_ms
        else
          window_start = floor(now / window) * window
          if window_start > now then window_start = window_start - window end
        end
      end
      if not ahead and count + cost <= limit then
        local used = count + cost
        local reset = 0
        if used > 0 then
          -- until_ms(window_start + window, now): its estimate when exact.
          local end_ms = window_start + window
          -- ceil by % (an operation, not a call): exact for a wait >= 0; one <= 0 goes to until_ms.
          local x = end_ms - now
          reset = x - x % 1
          if reset < x then reset = reset + 1 end
          if not (reset > 0 and now + reset >= end_ms and now + (reset - 1) < end_ms) then
            reset = until_ms(end_ms, now)
          end
        end
        return true, limit - used, 0, reset, pack('<dd', window_start, used)
      end
    end
    local st = nil
    if raw then st = parse(raw) end
    local ok, rem, retry, reset, nx, rebased = eval(st, now, cost, limit, window)
    if (ok and cost > 0) or rebased then return ok, rem, retry, reset, serialize(nx) end
    return ok, rem, retry, reset, nil
  end,
  refund = function(st, now, cost, limit, window)
    local window_start = st[1]
    if now < window_start then
      window_start = now
    elseif now >= window_start + window then
      return nil
    end
    local count = st[2] - cost
    if count < 0 then count = 0 end
    return { window_start, count }
  end,
  -- migrate (migrateFixed): available is the old limit minus the count of the window holding
  -- now; the new count goes in the same window when the length is unchanged, else in the new
  -- length's aligned window.
  migrate = function(L, f1, f2, _f3, st, o, _len, now, strat, limit, window)
    local start = st[o + 1]
    local count = st[o + 2]
    if now < start then
      start = now
    elseif now >= start + f2 then
      count = 0
    end
    local available = f1 - count
    if L.full(available, f1) then return nil end
    if window ~= f2 then start = aligned_start(now, window) end
    return { start, limit - L.whole(L.avail(strat, available, f1, limit)) }
  end,
}
end
