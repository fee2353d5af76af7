-- Cancel a job that has not ended. A running job's worker is told over rq's command channel to stop it;
-- the job is canceled here at once, so a lost message cannot leave it running (the heartbeat answers 0).
-- ARGV: [1] now_us|'' [2] job id [3] config JSON (ttl, keep) [4] force-delete '1'|'0'
proceed_when_full()
local jid = ARGV[2]
local cfg = cjson.decode(ARGV[3])
local f = fields(jid)
if not f then return {'missing'} end
if TERMINAL[f.state] then return {'conflict', f.state} end
leave(jid, f)
if f.state == 'running' and f.worker_name ~= '' then
  redis.call('PUBLISH', K.pubsub .. f.worker_name, cjson.encode({command = 'stop-job', job_id = jid}))
end
if f.state ~= 'running' then redis.call('HSET', K.job .. jid, 'started_at', '') end
enter_terminal(jid, f, 'canceled', cfg)
return {'ok', f.state}
