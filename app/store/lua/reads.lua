-- Many small reads in one round trip, all from one moment: the counts of every queue, the live workers'
-- hashes, the oldest pending job per queue, the throughput buckets (GET /queues, GET /jobs/stats).
-- Sent as a pipeline, 376 commands cost more Python in redis-py (packing and parsing each one) than Redis
-- time; as one script they cost one call. Only cheap reads are allowed (O(1), or O(log n) with LIMIT).
-- ARGV: [1] now_us|'' [2] JSON list of reads, each {cmd, key, args...}. Returns the replies in order.

local ALLOWED = {LLEN = true, ZCARD = true, SCARD = true, SISMEMBER = true, EXISTS = true, HGET = true,
                 HGETALL = true, ZRANGEBYSCORE = true}
local out = {}
for i, r in ipairs(cjson.decode(ARGV[2])) do
  if not ALLOWED[r[1]] then return redis.error_reply('reads.lua: read not allowed: ' .. tostring(r[1])) end
  if r[1] == 'ZRANGEBYSCORE' and r[#r - 2] ~= 'LIMIT' then
    return redis.error_reply('reads.lua: ZRANGEBYSCORE needs a LIMIT')
  end
  out[i] = redis.call(unpack(r))
end
return out
