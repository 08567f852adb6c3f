-- sliding_window.lua: the weighted two-window counter ('sw'); twin of src/core/sliding-window.ts.
-- Params: limit, windowMs. State: windowStartMs, previous, current.

-- sw_roll moves the state to now and returns windowStart, previous, current.
local function sw_roll(st, now, window)
  local start = math.floor(now / window) * window
  if not st then return start, 0, 0 end
  local window_start = st[1]
  if start > window_start then
    local previous = 0
    if start == window_start + window then previous = st[3] end
    return start, previous, 0
  end
  return window_start, st[2], st[3]
end

LOAD['sw'] = function() return {
  eval = function(st, now, cost, limit, window)
    local window_start, previous, current = sw_roll(st, now, window)
    local elapsed = now - window_start
    if elapsed < 0 then elapsed = 0 end
    local estimate = (previous * (window - elapsed)) / window + current
    if estimate + cost <= limit + EPSILON then
      local used = current + cost
      local reset = 0
      if used > 0 then
        reset = ceil_ms(window_start + 2 * window - now)
      elseif previous > 0 then
        reset = ceil_ms(window_start + window - now)
      end
      return true, floor_tokens(limit - (estimate + cost)), 0, reset, { window_start, previous, used }
    end
    local wait
    if current + cost <= limit then
      -- Wait within this window until enough of the previous window has slid out.
      wait = window_start + window - ((limit - current - cost) * window) / previous - now
    else
      -- Wait into the next window, where this window becomes the previous one.
      local into_next = window - ((limit - cost) * window) / current
      if into_next < 0 then into_next = 0 end
      wait = window_start + window + into_next - now
    end
    local reset = 0
    if current > 0 then
      reset = ceil_ms(window_start + 2 * window - now)
    elseif previous > 0 then
      reset = ceil_ms(window_start + window - now)
    end
    return false, floor_tokens(limit - estimate), ceil_ms(wait), reset, nil
  end,
  refund = function(st, now, cost, limit, window)
    local window_start, previous, current = sw_roll(st, now, window)
    current = current - cost
    if current < 0 then current = 0 end
    return { window_start, previous, current }
  end,
} end
