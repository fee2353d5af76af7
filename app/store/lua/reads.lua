-- Many small reads in one round trip, all from one moment: the counts of every queue, the live workers'
-- hashes, the oldest pending job per queue, the throughput buckets (GET /queues, GET /jobs/stats).
-- Sent as a pipeline, 376 commands cost more Python in redis-py (packing and parsing each one) than Redis
-- time; as one script they cost one call. Only cheap reads are allowed (lib.lua's cheap_reads).
-- ARGV: [1] now_us|'' [2] JSON list of reads, each {cmd, key, args...}. Returns the replies in order.

local out, refused = cheap_reads(cjson.decode(ARGV[2]), 'reads.lua')
if not out then return redis.error_reply(refused) end
return out
