-- gcra.lua: the generic cell rate algorithm ('gc'); twin of src/core/gcra.ts.
-- Params: emissionIntervalMs, burstToleranceMs, burst.
-- State: tat (theoretical arrival time) counted in emission intervals, so each admitted
-- unit adds exactly 1 and a client at the limit accumulates no rounding.

-- TIME_SLACK is the share of the numbers involved (clock in units, units ahead) within
-- which a unit counts as on time (2^-51), as in the TypeScript twin.
local TIME_SLACK = 2 ^ -51

LOAD['gc'] = function()
  local ceil, floor, pack, unpack = math.ceil, math.floor, struct.pack, struct.unpack
  -- passes is the test a wait waits for, at t: with cost > 0, eval's admission of cost
  -- against tat (admitsAt); with cost 0, idle's fullness (fullAt).
  local function passes(tat, t, cost, emission, burst)
    local now_u = t / emission
    local a = now_u
    if now_u < 0 then a = -now_u end
    if cost == 0 then return tat - now_u <= (a + burst) * TIME_SLACK end
    local ahead = 0
    if tat > now_u then ahead = tat - now_u end
    local new_ahead = ahead + cost
    return new_ahead <= burst + EPSILON + (a + new_ahead) * TIME_SLACK
  end
  -- wait returns the smallest whole r >= 1 at which passes(tat, now + r, cost), its test
  -- failing at now: the estimate as is when clear of a whole ms by the guard, else
  -- settled by the test (retryMs and resetMs). The helpers are written out here rather
  -- than in functions of their own: each function is a closure made on every call.
  local function wait(tat, now, cost, guess, emission, burst, span)
    local a = now
    if now < 0 then a = -now end
    local g = (a + span) * WAIT_GUARD
    local r = ceil(guess)
    local d = r - guess
    if guess > 0 and d > g and (d < 1 - g or r == 1) then return r end
    -- settleSide: just below (or on) r, just above r - 1, or not positive.
    if not (guess > 0) then
      r = 1
    elseif d <= g then
      if passes(tat, now + r, cost, emission, burst) then return r end
      r = r + 1
    else
      if not passes(tat, now + (r - 1), cost, emission, burst) then return r end
      r = r - 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and passes(tat, now + (r - 1), cost, emission, burst) do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not passes(tat, now + r, cost, emission, burst) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  local eval = function(st, now, cost, emission, tolerance, burst)
    local span = 2 * tolerance
    local now_u = now / emission
    local abs_u = now_u
    if now_u < 0 then abs_u = -now_u end
    local tat = now_u
    if st then tat = st[1] end
    local ahead = 0
    if tat > now_u then ahead = tat - now_u end
    -- No admitted call leaves tat more than burst ahead: further means the clock went
    -- back. Rebase: cap it at burst ahead of now.
    local rebased = ahead > burst + EPSILON + 2 * ((abs_u + ahead) * TIME_SLACK)
    if rebased then
      tat = now_u + burst
      ahead = tat - now_u
    end
    local new_ahead = ahead + cost
    local slack = (abs_u + new_ahead) * TIME_SLACK
    -- A cost of 0 is always allowed, even with tat a hair beyond the tolerance.
    if new_ahead <= burst + EPSILON + slack or cost == 0 then
      local tat_next = now_u + new_ahead
      local left = floor_tokens(burst + slack - new_ahead)
      if left > burst then left = burst end
      local reset
      if cost > 0 then
        -- tat_next is a whole unit or more ahead: not full now.
        reset = wait(tat_next, now, 0, (new_ahead - slack) * emission, emission, burst, span)
      elseif tat - now_u <= (abs_u + burst) * TIME_SLACK then
        reset = 0
      else
        reset = wait(tat, now, 0, (new_ahead - slack) * emission, emission, burst, span)
      end
      return true, left, 0, reset, { tat_next }, rebased
    end
    local left = floor_tokens(burst + slack - ahead)
    if left > burst then left = burst end
    local reset = 0
    if not (tat - now_u <= (abs_u + burst) * TIME_SLACK) then
      reset = wait(tat, now, 0, (ahead - slack) * emission, emission, burst, span)
    end
    local nx = nil
    if rebased then nx = { tat } end
    return false, left, wait(tat, now, cost, (new_ahead - burst - EPSILON - slack) * emission, emission, burst, span),
      reset, nx, rebased
  end
  return {
    eval = eval,
    -- step is eval on the stored string (raw, or false for no key): it returns ok,
    -- remaining, retryAfterMs, resetAfterMs, and the serialized next state when it is to
    -- be kept (an admitted cost, or rebased), else nil. The common case, a cost above 0
    -- admitted on a tat not rebased, is eval's admitted branch written out with no table
    -- and no Lua function call (the wait's settling, rarely needed, is wait itself);
    -- anything else is eval.
    step = function(raw, now, cost, emission, tolerance, burst)
      if cost > 0 and (not raw or #raw == 8) then
        local now_u = now / emission
        local abs_u = now_u
        if now_u < 0 then abs_u = -now_u end
        local tat = now_u
        if raw then tat = unpack('<d', raw) end
        local ahead = 0
        if tat > now_u then ahead = tat - now_u end
        if not (ahead > burst + EPSILON + 2 * ((abs_u + ahead) * TIME_SLACK)) then
          local new_ahead = ahead + cost
          local slack = (abs_u + new_ahead) * TIME_SLACK
          if new_ahead <= burst + EPSILON + slack then
            local tat_next = now_u + new_ahead
            -- floor_tokens by % (an operation, not a call): exact for a sum >= 0; below 0 it is 0 either way.
            local left = burst + slack - new_ahead + EPSILON
            left = left - left % 1
            if not (left > 0) then left = 0 end
            if left > burst then left = burst end
            local guess = (new_ahead - slack) * emission
            local a = now
            if now < 0 then a = -now end
            local g = (a + 2 * tolerance) * WAIT_GUARD
            -- ceil(guess) by %: exact for guess >= 0; guess <= 0 is settled by wait.
            local reset = guess - guess % 1
            if reset < guess then reset = reset + 1 end
            local d = reset - guess
            if not (guess > 0 and d > g and (d < 1 - g or reset == 1)) then
              reset = wait(tat_next, now, 0, guess, emission, burst, 2 * tolerance)
            end
            return true, left, 0, reset, pack('<d', tat_next)
          end
        end
      end
      local st = nil
      if raw then st = parse(raw) end
      local ok, rem, retry, reset, nx, rebased = eval(st, now, cost, emission, tolerance, burst)
      if (ok and cost > 0) or rebased then return ok, rem, retry, reset, serialize(nx) end
      return ok, rem, retry, reset, nil
    end,
    refund = function(st, now, cost, emission, _tolerance, burst)
      local now_u = now / emission
      local a = now_u
      if now_u < 0 then a = -now_u end
      local tat = st[1]
      if tat < now_u then
        tat = now_u
      elseif tat - now_u > burst + EPSILON + 2 * ((a + (tat - now_u)) * TIME_SLACK) then
        tat = now_u + burst
      end
      tat = tat - cost
      if tat < now_u then tat = now_u end
      return { tat }
    end,
    -- migrate (migrateGcra): available is the old burst minus the units tat runs ahead
    -- (at most the old burst); the new tat runs new burst - migrated available ahead.
    migrate = function(L, f1, _f2, f3, st, o, _len, now, strat, emission, _tolerance, burst)
      local now_u = now / f1
      local tat = st[o + 1]
      local ahead = 0
      if tat > now_u then ahead = tat - now_u end
      if ahead > f3 then ahead = f3 end
      local available = f3 - ahead
      if L.full(available, f3) then return nil end
      return { now / emission + (burst - L.avail(strat, available, f3, burst)) }
    end,
  }
end
