-- Keep a worker alive and extend its running job's lease; answer 0 when the job is no longer its own
-- (canceled, deleted, or reaped while the worker was cut off), so the worker stops running it.
-- ARGV: [1] now_us|'' [2] worker [3] worker TTL s [4] job id|'' [5] execution id [6] queue [7] lease s
proceed_when_full()
local wk = K.worker .. ARGV[2]
redis.call('HSET', wk, 'last_heartbeat', NOW_ISO)
redis.call('EXPIRE', wk, tonumber(ARGV[3]))
if ARGV[4] == '' then return 1 end
local jk = K.job .. ARGV[4]
local state = redis.call('HMGET', jk, 'status', 'jl_exec')
if state[1] ~= 'started' or state[2] ~= ARGV[5] then return 0 end
redis.call('ZADD', K.wip .. ARGV[6], NOW + tonumber(ARGV[7]), ARGV[4] .. ':' .. ARGV[5])
redis.call('HSET', jk, 'last_heartbeat', NOW_ISO)
return 1
