-- Record a running job's progress (and step) if the caller still owns the execution.
-- ARGV: [1] now_us|'' [2] job id [3] execution id [4] percent [5] step [6] '1' when a step is given
proceed_when_full()
local jid = ARGV[2]
local jk = K.job .. jid
local state = redis.call('HMGET', jk, 'status', 'jl_exec', 'origin', 'jl_step')
if state[1] ~= 'started' or state[2] ~= ARGV[3] then return 0 end
local step = state[4] or ''
if ARGV[6] == '1' then step = ARGV[5] end
redis.call('HSET', jk, 'jl_prog', ARGV[4], 'jl_step', step, 'jl_upd', NOW_ISO)
emit(jid, state[3], 'running', ARGV[4], step)
return 1
