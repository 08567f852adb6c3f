-- sliding_log.lua: the exact sliding window, one entry per admitted call ('sl'); twin of src/core/sliding-log.ts.
-- Params: limit, windowMs. State: timeMs, cost, timeMs, cost, ... oldest first.

LOAD['sl'] = function()
  -- live copies the entries still inside the window ending at now (oldest first) and moves
  -- those logged after now (the clock went back) to now; it returns them, their total cost
  -- and whether any moved.
  local function live(log, now, window)
    local n = #log
    local i = 1
    while i <= n and log[i] + window <= now do i = i + 2 end
    local nx = {}
    local m = 0
    local used = 0
    for j = i, n, 2 do
      nx[m + 1] = log[j]
      nx[m + 2] = log[j + 1]
      used = used + log[j + 1]
      m = m + 2
    end
    local rebased = false
    local k = m - 1
    while k >= 1 and nx[k] > now do
      nx[k] = now
      rebased = true
      k = k - 2
    end
    return nx, m, used, rebased
  end
  return {
    eval = function(st, now, cost, limit, window)
      local nx, m, used, rebased = live(st or {}, now, window)
      if used + cost <= limit then
        if cost > 0 then
          nx[m + 1] = now
          nx[m + 2] = cost
          m = m + 2
        end
        local total = used + cost
        local reset = 0
        if total > 0 then reset = until_ms(nx[m - 1] + window, now) end
        return true, limit - total, 0, reset, nx, rebased
      end
      -- Wait until enough of the oldest entries have expired (in the kept log: nx).
      local freed = 0
      local i = 1
      while i < m - 1 do
        freed = freed + nx[i + 1]
        if used - freed + cost <= limit then break end
        i = i + 2
      end
      local retry = until_ms(nx[i] + window, now)
      local reset = until_ms(nx[m - 1] + window, now)
      if not rebased then nx = nil end
      return false, limit - used, retry, reset, nx, rebased
    end,
    refund = function(st, now, cost, limit, window)
      local nx, m = live(st, now, window)
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
    -- migrate (migrateLog): the entries inside the old window (those after now moved to now;
    -- with a shorter new window, moved up to now - window + 1 so they still count), then
    -- brought to the new used count: taken from the oldest, or one entry at now added.
    migrate = function(L, f1, f2, _f3, st, o, len, now, strat, limit, window)
      local earliest = now - window + 1
      local nx = {}
      local m = 0
      local used = 0
      for i = o + 1, o + len - 1, 2 do
        local t = st[i]
        if t + f2 > now then
          if t > now then t = now end
          if window < f2 and t < earliest then t = earliest end
          nx[m + 1] = t
          nx[m + 2] = st[i + 1]
          used = used + st[i + 1]
          m = m + 2
        end
      end
      local available = f1 - used
      if L.full(available, f1) then return nil end
      local want = limit - L.whole(L.avail(strat, available, f1, limit))
      if want > used then
        nx[m + 1] = now
        nx[m + 2] = want - used
        return nx
      end
      local drop = used - want
      local first = 1
      while drop > 0 and first <= m do
        local c = nx[first + 1]
        if c > drop then
          nx[first + 1] = c - drop
          drop = 0
        else
          drop = drop - c
          first = first + 2
        end
      end
      if first == 1 then return nx end
      local out = {}
      for i = first, m do out[i - first + 1] = nx[i] end
      return out
    end,
  }
end
