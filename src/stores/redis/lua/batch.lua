-- batch.lua: the body of decide.lua and node.lua: decode the specs, sets and runs, then decide in order.
--
-- The prelude before it (decide.lua or node.lua) defines K (the keys by position,
-- the first at index k), CACHE (nil, or every key's state read up front: node.lua)
-- and a (the ARGV index of the specs). With CACHE, every read comes from it and every write updates it,
-- so no command in this body can fail for a key's node: node.lua has read each key
-- once (and so checked that this node serves it) before anything is written.

-- Globals used per decision, read once per call (a global is a table lookup, a local is not).
local call, format = redis.call, string.format
local now = now_ms(ARGV[1])
local grace = num(ARGV[2])

-- last_ttl and last_text are the last TTL written by the one-policy path and its text.
local last_ttl, last_text = nil, nil

-- MGET_MAX bounds the keys of one MGET (Lua's unpack has a limit on values).
local MGET_MAX = 200

-- SPEC holds each policy in 4 entries from 4i - 3: its math, p1, p2, p3. SET holds each
-- policy set in 3 entries from 3i - 2: its op, its number of policies n, and where its
-- n policy indexes start in IDX; EXTRA[i] holds an 'a' or 'v' set's member costs, shadow
-- flags and items. A few flat tables, as each table made costs about as much as a decision's
-- arithmetic.
local SPEC, SET, IDX, EXTRA = {}, {}, {}, nil
for i = 1, num(ARGV[a]) do
  local b = 4 * i
  SPEC[b - 3] = alg(ARGV[a + 1])
  SPEC[b - 2] = num(ARGV[a + 2])
  SPEC[b - 1] = num(ARGV[a + 3])
  SPEC[b] = num(ARGV[a + 4])
  a = a + 4
end
a = a + 1
local ni = 0
for i = 1, num(ARGV[a]) do
  local op = ARGV[a + 1]
  local n = num(ARGV[a + 2])
  local b = 3 * i
  SET[b - 2] = op
  SET[b - 1] = n
  SET[b] = ni + 1
  for j = 1, n do IDX[ni + j] = num(ARGV[a + 2 + j]) end
  ni = ni + n
  a = a + 2 + n
  if op == 'a' or op == 'v' then
    -- An all-or-nothing set across keys carries each member's cost, then its item and
    -- shadow flag as one number: item * 2 + (1 in shadow mode, else 0).
    local costs, shadow, itm = {}, {}, {}
    for j = 1, n do
      costs[j] = num(ARGV[a + j])
      local f = num(ARGV[a + n + j])
      itm[j] = math.floor(f / 2)
      shadow[j] = f % 2 == 1
    end
    if not EXTRA then EXTRA = {} end
    EXTRA[i] = { costs, shadow, itm }
    a = a + 2 * n
  end
end
a = a + 1
local runs = num(ARGV[a])
a = a + 1

local out = {}
local o = 0
for _ = 1, runs do
  local count = num(ARGV[a])
  local set = num(ARGV[a + 1])
  local cost = num(ARGV[a + 2])
  a = a + 3
  local op = SET[3 * set - 2]
  local n = SET[3 * set - 1]
  local first = SET[3 * set] - 1
  if n == 1 and op == 'c' then
    -- One policy, the common case: no tables beyond the state.
    local sb = 4 * IDX[first + 1]
    local eval = SPEC[sb - 3].eval
    -- step (a kind that has it) decides on the stored string itself, with no tables.
    local step = SPEC[sb - 3].step
    local q1, q2, q3 = SPEC[sb - 2], SPEC[sb - 1], SPEC[sb]
    -- One MGET per MGET_MAX keys reads the run's states (one command, not one GET per
    -- decision): the keys of one run are distinct (protocol.ts starts a new run at a
    -- key the run already holds), and earlier runs' writes are in Redis before this
    -- run's MGET, so two decisions on one key see each other's writes, in order. With
    -- CACHE (node.lua), every state comes from CACHE, which every write updates.
    local done = 0
    while done < count do
      local m = count - done
      if m > MGET_MAX then m = MGET_MAX end
      local raws = nil
      if not CACHE then raws = call('MGET', unpack(K, k, k + m - 1)) end
      for j = 1, m do
        local key = K[k]
        k = k + 1
        local raw
        if CACHE then raw = CACHE[key] else raw = raws[j] end
        local ok, rem, retry, reset
        if step then
          local w
          ok, rem, retry, reset, w = step(raw, now, cost, q1, q2, q3)
          if w then
            if raw and reset > 0 then
              -- put's common case written out: a key that exists, a state to keep. Keys
              -- of one call often share their TTL (a window's end, a fresh bucket's refill):
              -- its text is made once for a run of them.
              local ttl = reset + grace
              if ttl ~= last_ttl then
                last_ttl = ttl
                last_text = format('%d', ttl)
              end
              call('PSETEX', key, last_text, w)
              if CACHE then CACHE[key] = w end
            else
              put(key, w, reset, not raw, grace, CACHE)
            end
          end
        else
          local st = nil
          if raw then st = parse(raw) end
          local nx, rebased
          ok, rem, retry, reset, nx, rebased = eval(st, now, cost, q1, q2, q3)
          -- Kept: an admitted cost, or a state rebased after the clock went back.
          if (ok and cost > 0) or rebased then store(key, nx, reset, not raw, grace, CACHE) end
        end
        -- The outcome: remaining, resetAfterMs when admitted; -1 - remaining,
        -- retryAfterMs, resetAfterMs when refused (see decide.lua's Reply).
        if ok then
          out[o + 1] = rem
          out[o + 2] = reset
          o = o + 2
        else
          out[o + 1] = -1 - rem
          out[o + 2] = retry
          out[o + 3] = reset
          o = o + 3
        end
      end
      done = done + m
    end
  else
    for _ = 1, count do
      local algs, p1, p2, p3, keys = {}, {}, {}, {}, {}
      for i = 1, n do
        local sb = 4 * IDX[first + i]
        algs[i] = SPEC[sb - 3]
        p1[i] = SPEC[sb - 2]
        p2[i] = SPEC[sb - 1]
        p3[i] = SPEC[sb]
        keys[i] = K[k]
        k = k + 1
      end
      if op == 'c' then
        local states, oks, rems, retries, resets, nexts, rebs = {}, {}, {}, {}, {}, {}, {}
        local all = true
        for i = 1, n do
          local raw = get(keys[i], CACHE)
          local st = nil
          if raw then st = parse(raw) end
          states[i] = st
          oks[i], rems[i], retries[i], resets[i], nexts[i], rebs[i] =
            algs[i].eval(st, now, cost, p1[i], p2[i], p3[i])
          if not oks[i] then all = false end
        end
        o = o + 1
        if all then
          out[o] = 1
        else
          out[o] = 0
          -- Denied: nothing is taken; a policy that would have admitted the cost is
          -- reported as it stands (a peek).
          for i = 1, n do
            if oks[i] then
              oks[i], rems[i], retries[i], resets[i], nexts[i], rebs[i] =
                algs[i].eval(states[i], now, 0, p1[i], p2[i], p3[i])
            end
          end
        end
        -- Kept: the admitted costs, and any state rebased after the clock went back.
        for i = 1, n do
          if (all and cost > 0) or rebs[i] then store(keys[i], nexts[i], resets[i], false, grace, CACHE) end
        end
        for i = 1, n do
          if oks[i] then
            out[o + 1] = rems[i]
            out[o + 2] = resets[i]
            o = o + 2
          else
            out[o + 1] = -1 - rems[i]
            out[o + 2] = retries[i]
            out[o + 3] = resets[i]
            o = o + 3
          end
        end
      elseif op == 'a' or op == 'v' then
        -- All-or-nothing across keys. Members come grouped by item (an item: one key and
        -- its policies, all-or-nothing among themselves, as a 'c' decision of several
        -- policies). Every item admits its own cost, or, when an item that is not in
        -- shadow mode refuses, nothing is taken from any. A member of cost 0 is a check:
        -- it refuses when nothing remains. An item sees the tentative takes of the items
        -- before it on the same key. 'v' (a dry run) decides the same way and takes
        -- nothing. Reported per member: a refused item's members as decided (its
        -- admitting members as they stood); an admitted item's members after the take
        -- when everything is taken, else as a peek of the state before the call.
        local x = EXTRA[set]
        local costs, shadow, itm = x[1], x[2], x[3]
        local oks, rems, retries, resets, nexts, rebs = {}, {}, {}, {}, {}, {}
        local orig, pending, itemOk = {}, {}, {}
        local all = true
        local i = 1
        while i <= n do
          local last = i
          while last < n and itm[last + 1] == itm[i] do last = last + 1 end
          local ok = true
          local pre = {}
          for m = i, last do
            local key = keys[m]
            if orig[key] == nil then
              local raw = get(key, CACHE)
              orig[key] = false
              if raw then orig[key] = parse(raw) end
            end
            local st = pending[key]
            if st == nil then st = orig[key] end
            pre[m] = st
            oks[m], rems[m], retries[m], resets[m], nexts[m], rebs[m] =
              algs[m].eval(st or nil, now, costs[m], p1[m], p2[m], p3[m])
            if costs[m] == 0 and rems[m] <= 0 then oks[m] = false end
            if not oks[m] then ok = false end
          end
          for m = i, last do
            if not ok and oks[m] and costs[m] > 0 then
              -- The item refuses: its admitting members take nothing and report their standing.
              local _
              _, rems[m], retries[m], resets[m], nexts[m], rebs[m] =
                algs[m].eval(pre[m] or nil, now, 0, p1[m], p2[m], p3[m])
            end
            if (ok and costs[m] > 0) or rebs[m] then pending[keys[m]] = nexts[m] end
          end
          itemOk[itm[i]] = ok
          if not ok and not shadow[i] then all = false end
          i = last + 1
        end
        if op == 'v' then all = false end
        o = o + 1
        if all then out[o] = 1 else out[o] = 0 end
        for m = 1, n do
          local taken = itemOk[itm[m]] and costs[m] > 0
          if all then
            if taken or rebs[m] then store(keys[m], nexts[m], resets[m], false, grace, CACHE) end
          else
            if taken then
              local _
              _, rems[m], retries[m], resets[m], nexts[m], rebs[m] =
                algs[m].eval(orig[keys[m]] or nil, now, 0, p1[m], p2[m], p3[m])
            end
            -- Nothing is taken; a state rebased after the clock went back is still kept.
            if rebs[m] then store(keys[m], nexts[m], resets[m], false, grace, CACHE) end
          end
        end
        for m = 1, n do
          if oks[m] then
            out[o + 1] = rems[m]
            out[o + 2] = resets[m]
            o = o + 2
          else
            out[o + 1] = -1 - rems[m]
            out[o + 2] = retries[m]
            out[o + 3] = resets[m]
            o = o + 3
          end
        end
      elseif op == 'r' then
        for i = 1, n do
          local raw = get(keys[i], CACHE)
          if raw then
            local nx = algs[i].refund(parse(raw), now, cost, p1[i], p2[i], p3[i])
            if nx then
              -- A refund only brings the state closer to idle, so the key's current TTL
              -- still bounds it; keep the state (an idle-looking state can still differ
              -- from a fresh one, such as a stepped bucket's phase) until then.
              local _, _, _, reset = algs[i].eval(nx, now, 0, p1[i], p2[i], p3[i])
              local ttl = call('PTTL', keys[i])
              if reset > 0 and reset + grace > ttl then ttl = reset + grace end
              if ttl > 0 and #nx > 0 then
                local raw = serialize(nx)
                call('PSETEX', keys[i], format('%d', ttl), raw)
                if CACHE then CACHE[keys[i]] = raw end
              else
                call('DEL', keys[i])
                if CACHE then CACHE[keys[i]] = false end
              end
            end
          end
        end
        o = o + 1
        out[o] = 1
      elseif op == 'p' then
        -- A penalty: each policy gives what it has, down to empty (never into debt). A peek
        -- first (which may migrate or rebase the state: kept), then what is left is taken.
        for i = 1, n do
          local raw = get(keys[i], CACHE)
          local st = nil
          if raw then st = parse(raw) end
          local _, rem, _, reset, nx, rebased = algs[i].eval(st, now, 0, p1[i], p2[i], p3[i])
          local take = cost
          if rem < take then take = rem end
          if take > 0 then
            if rebased and nx and #nx > 0 then st = nx end
            local _, _, _, reset2, nx2 = algs[i].eval(st, now, take, p1[i], p2[i], p3[i])
            store(keys[i], nx2, reset2, false, grace, CACHE)
          elseif rebased then
            store(keys[i], nx, reset, false, grace, CACHE)
          end
        end
        o = o + 1
        out[o] = 1
      else
        for i = 1, n do
          call('DEL', keys[i])
          if CACHE then CACHE[keys[i]] = false end
        end
        o = o + 1
        out[o] = 1
      end
    end
  end
end
return out
