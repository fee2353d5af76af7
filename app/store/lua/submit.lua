-- Create a job: idempotency check, job hash, then pending (queue list) or scheduled (registry).
-- KEYS: [1] job hash, [2] idempotency key (optional)
-- ARGV: [1] now_us|'' [2] job id [3] fields JSON [4] data (rq's zlib JSON) [5] run-at epoch s|'' [6] body hash [7] idempotency TTL s
local jid = ARGV[2]
if KEYS[2] then
  local prev = redis.call('GET', KEYS[2])
  if prev then
    local p = cjson.decode(prev)
    if p.hash ~= ARGV[6] then return {'conflict', p.id} end
    if redis.call('EXISTS', K.job .. p.id) == 1 then return {'duplicate', p.id} end
  end
  redis.call('SET', KEYS[2], cjson.encode({hash = ARGV[6], id = jid}), 'EX', tonumber(ARGV[7]))
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', jid} end
local given = cjson.decode(ARGV[3])
local args = {'data', ARGV[4], 'created_at', NOW_ISO, 'jl_upd', NOW_ISO, 'status', 'queued'}
for k, v in pairs(given) do
  if v ~= '' then  -- absent reads as empty everywhere; not storing it saves memory per retained job
    args[#args + 1] = k
    args[#args + 1] = v
  end
end
redis.call('HSET', KEYS[1], unpack(args))
redis.call('SADD', K.jl_queues, given.origin)
redis.call('HINCRBY', K.submitted, given.origin, 1)
local f = fields(jid)
local run_at = tonumber(ARGV[5])
if run_at and run_at > NOW then
  enter_scheduled(jid, f, run_at, false)
else
  enter_pending(jid, f, false)
end
return {'created', jid}
