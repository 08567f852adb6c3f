-- live.lua: live policies ('<code>@<version>@<strategy>'); twin of src/core/live.ts.
--
-- A live policy's state starts with a header of four doubles: the version that wrote it
-- and that version's params p1 p2 p3; the algorithm's own state follows. A state written
-- by an earlier version is migrated on its next decision by the algorithm's `migrate`,
-- with this version's strategy ('r' reset, 's' as-is, 'p' proportional, 'a' additive),
-- and kept whatever the verdict; a state of this version or a later one is decided as is,
-- its header kept. `alg` builds a live kind on first use (it is not in LOAD).

LOAD['live'] = function()
  -- The strategies (strategy.ts): migrated available units, whole units, and "holds nothing".
  local L = {
    avail = function(strat, a, l0, l1)
      if a < 0 then a = 0 end
      if a > l0 then a = l0 end
      if strat == 'r' then
        a = l1
      elseif strat == 'p' then
        a = (a * l1) / l0
      elseif strat == 'a' and l1 > l0 then
        a = a + (l1 - l0)
      end
      if a > l1 then return l1 end
      return a
    end,
    whole = function(a)
      local f = math.floor(a + EPSILON)
      if f > 0 then return f end
      return 0
    end,
    full = function(a, l) return a + EPSILON >= l end,
  }
  -- inner returns the algorithm state of a live state (without its header).
  local function inner(st)
    local t = {}
    for i = 5, #st do t[i - 4] = st[i] end
    return t
  end
  -- with_header returns the header v h1 h2 h3 followed by the algorithm state t.
  local function with_header(v, h1, h2, h3, t)
    local r = { v, h1, h2, h3 }
    for i = 1, #t do r[4 + i] = t[i] end
    return r
  end
  return function(kind)
    local code, v, strat = string.match(kind, '^(%a+)@(%d+)@(%a)$')
    local base = alg(code)
    local version = tonumber(v)
    -- prepare returns the algorithm state to decide from: as stored (current or later),
    -- migrated, or nil (fresh), and whether it was migrated.
    local function prepare(st, now, p1, p2, p3)
      if st[1] >= version then return inner(st), false end
      if strat == 'r' then return nil, true end
      return base.migrate(L, st[2], st[3], st[4], st, 4, #st - 4, now, strat, p1, p2, p3), true
    end
    return {
      eval = function(st, now, cost, p1, p2, p3)
        if not st then
          local ok, rem, retry, reset, nx, rebased = base.eval(nil, now, cost, p1, p2, p3)
          if nx then nx = with_header(version, p1, p2, p3, nx) end
          return ok, rem, retry, reset, nx, rebased
        end
        local from, migrated = prepare(st, now, p1, p2, p3)
        local ok, rem, retry, reset, nx, rebased = base.eval(from, now, cost, p1, p2, p3)
        if not migrated then
          if nx then nx = with_header(st[1], st[2], st[3], st[4], nx) end
          return ok, rem, retry, reset, nx, rebased
        end
        -- Migrated: kept whatever the verdict (a denial keeps the migrated state), so it
        -- migrates once; nothing to keep deletes the key.
        if not nx then nx = from end
        if nx then
          nx = with_header(version, p1, p2, p3, nx)
        else
          nx = {}
        end
        return ok, rem, retry, reset, nx, true
      end,
      refund = function(st, now, cost, p1, p2, p3)
        local from, migrated = prepare(st, now, p1, p2, p3)
        if not from then return nil end
        local nx = base.refund(from, now, cost, p1, p2, p3)
        if not nx then return nil end
        if migrated then return with_header(version, p1, p2, p3, nx) end
        return with_header(st[1], st[2], st[3], st[4], nx)
      end,
    }
  end
end
