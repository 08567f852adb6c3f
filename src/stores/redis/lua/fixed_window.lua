-- fixed_window.lua: a counter per aligned window ('fw'); twin of src/core/fixed-window.ts.
-- Params: limit, windowMs. State: windowStartMs, count.

LOAD['fw'] = function() return {
  eval = function(st, now, cost, limit, window)
    local start = math.floor(now / window) * window
    local window_start = start
    local count = 0
    if st then
      window_start = st[1]
      count = st[2]
      if start > window_start then
        window_start = start
        count = 0
      end
    end
    local ends_in = ceil_ms(window_start + window - now)
    if count + cost <= limit then
      local used = count + cost
      local reset = 0
      if used > 0 then reset = ends_in end
      return true, limit - used, 0, reset, { window_start, used }
    end
    return false, limit - count, ends_in, ends_in, nil
  end,
  refund = function(st, now, cost, limit, window)
    local window_start = st[1]
    if math.floor(now / window) * window > window_start then return nil end
    local count = st[2] - cost
    if count < 0 then count = 0 end
    return { window_start, count }
  end,
} end
