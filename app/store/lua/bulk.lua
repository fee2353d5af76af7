-- One bounded batch of a queue-wide action on the jobs of one status, oldest first:
-- 'purge' deletes them entirely (hash, logs, indexes), 'retry' sends failed ones back to pending.
-- Entries whose job is gone or elsewhere are dropped on the way. The caller repeats until done.
-- ARGV: [1] now_us|'' [2] action purge|retry [3] queue [4] status [5] batch size
-- Returns {done, seen, remaining}: jobs acted on, entries looked at, entries left in the source.
proceed_when_full()
local action, q, status, n = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local src
if status == 'pending' then src = K.ix .. 'queue:' .. q .. ':pending'
elseif status == 'scheduled' then src = K.scheduled .. q
else src = TERMINAL[status] .. q end
local ids = redis.call('ZRANGE', src, 0, n - 1)
local done = 0
for _, jid in ipairs(ids) do
  local f = fields(jid)
  if not f or f.state ~= status or f.origin ~= q then
    redis.call('ZREM', src, jid)
    if not f then redis.call('DEL', K.logs .. jid) end
  elseif action == 'purge' then
    delete_job(jid, f)
    emit(jid, q, 'deleted', f.jl_prog, f.jl_step)
    done = done + 1
  else
    send_back(jid, f)
    done = done + 1
  end
end
return {done, #ids, redis.call('ZCARD', src)}
