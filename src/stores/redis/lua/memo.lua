-- memo.lua: in the function library only (after lib.lua): NUM_MEMO, a memo of tonumber.
--
-- C's strtod behind tonumber is the larger part of decoding a call's ARGV; a table hit
-- costs less. The memo lives as long as the library (FUNCTION LOAD runs this file once),
-- capped at NUM_MAX strings and emptied when full. A script (EVAL) keeps plain tonumber:
-- there the memo would live for one call and cost more than it saves.
local NUM = {}
local NUM_MAX = 1024
local NUM_N = 0
NUM_MEMO = function(s)
  local v = NUM[s]
  if v == nil then
    v = tonumber(s)
    if NUM_N >= NUM_MAX then
      NUM = {}
      NUM_N = 0
    end
    NUM[s] = v
    NUM_N = NUM_N + 1
  end
  return v
end
