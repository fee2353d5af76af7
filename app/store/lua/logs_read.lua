-- Read a job's log lines from an absolute offset; lines trimmed away are skipped, not renumbered.
-- ARGV: [1] now_us|'' [2] job id [3] offset [4] most lines to return
-- Returns {next offset, line...} where next offset = the offset after the last line returned.
local lk = K.logs .. ARGV[2]
local want, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local first = redis.call('LINDEX', lk, 0)
if not first then return {want} end
local f = tonumber(string.match(first, '^{"offset":(%d+)'))
local start = math.max(0, want - f)
local lines = redis.call('LRANGE', lk, start, start + limit - 1)
local out = {f + start + #lines}
for _, line in ipairs(lines) do out[#out + 1] = line end
return out
