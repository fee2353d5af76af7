-- Send a failed or canceled job back to pending with the same id; its last attempt goes into history.
-- ARGV: [1] now_us|'' [2] job id
local jid = ARGV[2]
local f = fields(jid)
if not f then return {'missing'} end
if f.state ~= 'failed' and f.state ~= 'canceled' then return {'conflict', f.state} end
leave(jid, f)
local ended = redis.call('HGET', K.job .. jid, 'ended_at') or NOW_ISO
push_history(jid, f, f.state, f.jl_err ~= '' and f.jl_err or nil, ended)
redis.call('HSET', K.job .. jid, 'jl_retry', 0, 'jl_err', '', 'jl_trace', '', 'result', '', 'started_at', '',
  'ended_at', '', 'worker_name', '', 'jl_exec', '', 'jl_prog', '', 'jl_step', '')
redis.call('PERSIST', K.job .. jid)
redis.call('PERSIST', K.logs .. jid)
f.jl_prog, f.jl_step = '', ''
enter_pending(jid, f, false)
return {'ok', f.state}
