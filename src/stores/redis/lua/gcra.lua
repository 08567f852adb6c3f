-- gcra.lua: the generic cell rate algorithm ('gc'); twin of src/core/gcra.ts.
-- Params: emissionIntervalMs, burstToleranceMs, burst. State: tat (theoretical arrival time).

-- TIME_SLACK is the share of the clock's magnitude within which a unit counts as on time (2^-46).
local TIME_SLACK = 2 ^ -46

LOAD['gc'] = function() return {
  eval = function(st, now, cost, emission, tolerance)
    local slack_ms = EPSILON * emission
    -- ahead is how far tat runs ahead of now, taken first so it keeps a double's full precision.
    local tat = now
    if st then tat = st[1] end
    local ahead = 0
    if tat > now then ahead = tat - now end
    local new_ahead = ahead + cost * emission
    local abs_now = now
    if now < 0 then abs_now = -now end
    local slack = abs_now * TIME_SLACK
    if new_ahead <= tolerance + slack_ms + slack then
      return true, floor_tokens((tolerance + slack - new_ahead) / emission), 0, ceil_ms(new_ahead - slack),
        { now + new_ahead }
    end
    return false, floor_tokens((tolerance + slack - ahead) / emission), ceil_ms(new_ahead - tolerance - slack),
      ceil_ms(ahead - slack), nil
  end,
  refund = function(st, now, cost, emission)
    local tat = st[1]
    if tat < now then tat = now end
    tat = tat - cost * emission
    if tat < now then tat = now end
    return { tat }
  end,
} end
