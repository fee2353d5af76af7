-- Delete a job and everything stored with it. A running job needs force (it is stopped first).
-- ARGV: [1] now_us|'' [2] job id [3] force '1'|'0'
proceed_when_full()
local jid = ARGV[2]
local f = fields(jid)
if not f then return {'missing'} end
if f.state == 'running' then
  if ARGV[3] ~= '1' then return {'conflict', f.state} end
  if f.worker_name ~= '' then
    redis.call('PUBLISH', K.pubsub .. f.worker_name, cjson.encode({command = 'stop-job', job_id = jid}))
  end
end
delete_job(jid, f)
emit(jid, f.origin, 'deleted', f.jl_prog, f.jl_step)
return {'ok', f.state}
