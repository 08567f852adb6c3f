-- gcra.lua: the generic cell rate algorithm ('gc'); twin of src/core/gcra.ts.
-- Params: emissionIntervalMs, burstToleranceMs, burst.
-- State: tat (theoretical arrival time) counted in emission intervals, so each admitted
-- unit adds exactly 1 and a client at the limit accumulates no rounding.

-- TIME_SLACK is the share of the numbers involved (clock in units, units ahead) within
-- which a unit counts as on time (2^-51), as in the TypeScript twin.
local TIME_SLACK = 2 ^ -51

LOAD['gc'] = function()
  -- slack_of is the rounding slack for a test at now_u involving ahead units (slackOf).
  local function slack_of(now_u, ahead)
    local a = now_u
    if now_u < 0 then a = -now_u end
    return (a + ahead) * TIME_SLACK
  end
  -- admits_at is eval's admission test of cost against tat at t (admitsAt).
  local function admits_at(tat, t, cost, emission, burst)
    local now_u = t / emission
    local ahead = 0
    if tat > now_u then ahead = tat - now_u end
    local new_ahead = ahead + cost
    return new_ahead <= burst + EPSILON + slack_of(now_u, new_ahead)
  end
  -- full_at is idle's test: tat is not ahead of t (fullAt).
  local function full_at(tat, t, emission, burst)
    local now_u = t / emission
    return tat - now_u <= slack_of(now_u, burst)
  end
  -- retry_ms returns the smallest whole r >= 1 at which admits_at(tat, now + r, cost): the estimate
  -- as is when clear of a whole ms by the guard, else settled by the test (retryMs).
  local function retry_ms(tat, now, cost, guess, emission, burst, span)
    local side = settle_side(guess, guard_ms(now, span))
    local r = math.ceil(guess)
    if side == 0 then return r end
    if side == 1 then
      if admits_at(tat, now + r, cost, emission, burst) then return r end
      r = r + 1
    elseif side == -1 then
      if not admits_at(tat, now + (r - 1), cost, emission, burst) then return r end
      r = r - 1
    else
      r = 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and admits_at(tat, now + (r - 1), cost, emission, burst) do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not admits_at(tat, now + r, cost, emission, burst) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  -- reset_ms returns the smallest whole r >= 0 at which full_at(tat, now + r), likewise; ahead says
  -- tat is a whole unit or more ahead of now (resetMs).
  local function reset_ms(tat, now, guess, ahead, emission, burst, span)
    if not ahead and full_at(tat, now, emission, burst) then return 0 end
    local side = settle_side(guess, guard_ms(now, span))
    local r = math.ceil(guess)
    if side == 0 then return r end
    if side == 1 then
      if full_at(tat, now + r, emission, burst) then return r end
      r = r + 1
    elseif side == -1 then
      if not full_at(tat, now + (r - 1), emission, burst) then return r end
      r = r - 1
    else
      r = 1
    end
    local i = 0
    while i < FIX_STEPS and r > 1 and full_at(tat, now + (r - 1), emission, burst) do
      r = r - 1
      i = i + 1
    end
    i = 0
    while i < FIX_STEPS and not full_at(tat, now + r, emission, burst) do
      r = r + 1
      i = i + 1
    end
    return r
  end
  return {
    eval = function(st, now, cost, emission, tolerance, burst)
      local span = 2 * tolerance
      local now_u = now / emission
      local tat = now_u
      if st then tat = st[1] end
      local ahead = 0
      if tat > now_u then ahead = tat - now_u end
      -- No admitted call leaves tat more than burst ahead: further means the clock went
      -- back. Rebase: cap it at burst ahead of now.
      local rebased = ahead > burst + EPSILON + 2 * slack_of(now_u, ahead)
      if rebased then
        tat = now_u + burst
        ahead = tat - now_u
      end
      local new_ahead = ahead + cost
      local slack = slack_of(now_u, new_ahead)
      -- A cost of 0 is always allowed, even with tat a hair beyond the tolerance.
      if new_ahead <= burst + EPSILON + slack or cost == 0 then
        local tat_next = now_u + new_ahead
        local left = floor_tokens(burst + slack - new_ahead)
        if left > burst then left = burst end
        local kept = tat
        if cost > 0 then kept = tat_next end
        return true, left, 0, reset_ms(kept, now, (new_ahead - slack) * emission, cost > 0, emission, burst, span),
          { tat_next }, rebased
      end
      local left = floor_tokens(burst + slack - ahead)
      if left > burst then left = burst end
      local nx = nil
      if rebased then nx = { tat } end
      return false, left,
        retry_ms(tat, now, cost, (new_ahead - burst - EPSILON - slack) * emission, emission, burst, span),
        reset_ms(tat, now, (ahead - slack) * emission, false, emission, burst, span), nx, rebased
    end,
    refund = function(st, now, cost, emission, _tolerance, burst)
      local now_u = now / emission
      local tat = st[1]
      if tat < now_u then
        tat = now_u
      elseif tat - now_u > burst + EPSILON + 2 * slack_of(now_u, tat - now_u) then
        tat = now_u + burst
      end
      tat = tat - cost
      if tat < now_u then tat = now_u end
      return { tat }
    end,
  }
end
