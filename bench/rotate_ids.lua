-- wrk script for bench/case_read.py: GET <prefix><id>, rotating over the ids in a file.
--   wrk ... -s bench/rotate_ids.lua http://127.0.0.1:PORT -- ids.txt /v1/cases/
-- Every thread reads the list and starts at its own random offset, so connections
-- spread over the table instead of all hitting one row. Headers come from wrk's -H.
local ids, n, i = {}, 0, 0
local prefix = "/v1/cases/"

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      n = n + 1
      ids[n] = line
    end
  end
  if args[2] then prefix = args[2] end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
  i = math.random(n)
end

function request()
  i = i % n + 1
  return wrk.format("GET", prefix .. ids[i])
end
