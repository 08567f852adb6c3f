-- node.lua: decide.lua for a Redis Cluster node: one call carries decisions whose keys lie in
-- several hash slots, all served by the node that runs it.
--
-- Redis Cluster refuses a call whose declared KEYS span slots (CROSSSLOT), even on one
-- node, and a script may touch an undeclared key only when the node serves its slot
-- (flags=allow-cross-slot-keys, Redis 7+, the first line of this script). So KEYS holds
-- one key (the first decision's, which routes the call to its node), and the keys of
-- every decision travel in ARGV. Every key is read once before anything is written:
-- a key this node does not serve (its slot moved, or is migrating and the key is
-- already gone) fails the read, so the call fails before it changes anything, and the
-- client sends the decisions again one slot per call, where MOVED and ASK redirect.
--
-- KEYS: one key of the first decision (routing only).
-- ARGV: [1] nowMs, [2] graceMs, [3] nKeys, then nKeys keys (one per policy of each
--       decision, in order), then specs, sets and runs as in decide.lua.
-- Reply: as decide.lua.

-- K is ARGV itself (the keys start at k = 4), not a copy.
local num = NUM_MEMO or tonumber
local nk = num(ARGV[3])
local K, CACHE, k = ARGV, {}, 4
local rcall = redis.call
for i = 4, 3 + nk do
  local key = ARGV[i]
  if CACHE[key] == nil then CACHE[key] = rcall('GET', key) end
end
local a = 4 + nk
