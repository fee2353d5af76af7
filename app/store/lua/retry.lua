-- Send a failed or canceled job back to pending with the same id; its last attempt goes into history.
-- ARGV: [1] now_us|'' [2] job id
proceed_when_full()
local jid = ARGV[2]
local f = fields(jid)
if not f then return {'missing'} end
if f.state ~= 'failed' and f.state ~= 'canceled' then return {'conflict', f.state} end
send_back(jid, f)
return {'ok', f.state}
