-- Append a batch of an execution's captured log lines, numbering them on from the last stored line,
-- keep the newest ones, and note the batch on the log feed (it wakes followers).
-- ARGV: [1] now_us|'' [2] job id [3] execution id [4] lines kept at most [5] lines dropped before this
--       batch [6..] lines: JSON objects without their offset, e.g. {"ts":..,"level":..,"message":..}
-- Returns the next offset, or -1 when the job is gone or no longer runs this execution.
local jid = ARGV[2]
local jk = K.job .. jid
if redis.call('HGET', jk, 'jl_exec') ~= ARGV[3] then return -1 end
local lk = K.logs .. jid
local last = redis.call('LINDEX', lk, -1)
local nxt = 0
if last then nxt = tonumber(string.match(last, '^{"offset":(%d+)')) + 1 end
nxt = nxt + tonumber(ARGV[5])
local batch = {}
for i = 6, #ARGV do
  batch[#batch + 1] = '{"offset":' .. nxt .. ',' .. string.sub(ARGV[i], 2)
  nxt = nxt + 1
end
if #batch > 0 then redis.call('RPUSH', lk, unpack(batch)) end
redis.call('LTRIM', lk, -tonumber(ARGV[4]), -1)
local ttl = redis.call('PTTL', jk)
if ttl > 0 then redis.call('PEXPIRE', lk, ttl) end  -- a late batch of an ended job ends with it
redis.call('XADD', K.logfeed, 'MAXLEN', '~', 1000, '*', 'id', jid, 'next', nxt)
return nxt
