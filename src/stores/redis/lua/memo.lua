-- memo.lua: in the function library only (after lib.lua): NUM_MEMO, a memo of tonumber,
-- and SPEC_KEEP, lone.lua's memo of its spec text.
--
-- C's strtod behind tonumber is the larger part of decoding a call's ARGV; a table hit
-- costs less. The memos live as long as the library (FUNCTION LOAD runs this file once),
-- each capped at MEMO_MAX strings and emptied when full. A script (EVAL) keeps plain tonumber:
-- there a memo would live for one call and cost more than it saves.
local MEMO_MAX = 1024
local NUM_N = 0
NUM = {}
NUM_MEMO = function(s)
  local v = NUM[s]
  if v == nil then
    v = tonumber(s)
    if NUM_N >= MEMO_MAX then
      NUM = {}
      NUM_N = 0
    end
    NUM[s] = v
    NUM_N = NUM_N + 1
  end
  return v
end
local SPEC_N = 0
SPECS = {}
SPEC_KEEP = function(s, v)
  if SPEC_N >= MEMO_MAX then
    SPECS = {}
    SPEC_N = 0
  end
  SPECS[s] = v
  SPEC_N = SPEC_N + 1
end
