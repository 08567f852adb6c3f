-- sliding_log.lua: the exact sliding window, one entry per admitted call ('sl'); twin of src/core/sliding-log.ts.
-- Params: limit, windowMs. State: timeMs, cost, timeMs, cost, ... oldest first.

-- sl_first_live returns the index of the first entry still inside the window ending at now.
local function sl_first_live(log, now, window)
  local i = 1
  local n = #log
  while i <= n and log[i] + window <= now do i = i + 2 end
  return i
end

LOAD['sl'] = function() return {
  eval = function(st, now, cost, limit, window)
    local log = st or {}
    local len = #log
    local first = sl_first_live(log, now, window)
    local used = 0
    for i = first + 1, len, 2 do used = used + log[i] end
    local newest = now
    if len >= first then newest = log[len - 1] end
    if used + cost <= limit then
      local nx = {}
      local m = 0
      for i = first, len do
        m = m + 1
        nx[m] = log[i]
      end
      if cost > 0 then
        if newest > now then nx[m + 1] = newest else nx[m + 1] = now end
        nx[m + 2] = cost
        m = m + 2
      end
      local total = used + cost
      local reset = 0
      if total > 0 then reset = ceil_ms(nx[m - 1] + window - now) end
      return true, limit - total, 0, reset, nx
    end
    -- Wait until enough of the oldest entries have expired.
    local freed = 0
    local wait = 0
    for i = first, len, 2 do
      freed = freed + log[i + 1]
      if used - freed + cost <= limit then
        wait = log[i] + window - now
        break
      end
    end
    return false, limit - used, ceil_ms(wait), ceil_ms(newest + window - now), nil
  end,
  refund = function(st, now, cost, limit, window)
    local first = sl_first_live(st, now, window)
    local nx = {}
    local m = 0
    for i = first, #st do
      m = m + 1
      nx[m] = st[i]
    end
    -- Take the refund back from the newest entries.
    local left = cost
    while left > 0 and m > 0 do
      local c = nx[m]
      if c > left then
        nx[m] = c - left
        left = 0
      else
        left = left - c
        nx[m] = nil
        nx[m - 1] = nil
        m = m - 2
      end
    end
    return nx
  end,
} end
