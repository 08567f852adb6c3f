-- gcra.lua: the generic cell rate algorithm ('gc'); twin of src/core/gcra.ts.
-- Params: emissionIntervalMs, burstToleranceMs, burst.
-- State: tat (theoretical arrival time) counted in emission intervals, so each admitted
-- unit adds exactly 1 and a client at the limit accumulates no rounding.

-- TIME_SLACK is the share of the numbers involved (clock in units, units ahead) within
-- which a unit counts as on time (2^-51), as in the TypeScript twin.
local TIME_SLACK = 2 ^ -51

LOAD['gc'] = function() return {
  eval = function(st, now, cost, emission, _tolerance, burst)
    local now_u = now / emission
    local tat = now_u
    if st then tat = st[1] end
    local ahead = 0
    if tat > now_u then ahead = tat - now_u end
    local new_ahead = ahead + cost
    local abs_now = now_u
    if now_u < 0 then abs_now = -now_u end
    local slack = (abs_now + new_ahead) * TIME_SLACK
    if new_ahead <= burst + EPSILON + slack then
      local left = floor_tokens(burst + slack - new_ahead)
      if left > burst then left = burst end
      return true, left, 0, ceil_ms((new_ahead - slack) * emission), { now_u + new_ahead }
    end
    local left = floor_tokens(burst + slack - ahead)
    if left > burst then left = burst end
    return false, left, ceil_ms((new_ahead - burst - slack) * emission), ceil_ms((ahead - slack) * emission), nil
  end,
  refund = function(st, now, cost, emission)
    local now_u = now / emission
    local tat = st[1]
    if tat < now_u then tat = now_u end
    tat = tat - cost
    if tat < now_u then tat = now_u end
    return { tat }
  end,
} end
