-- A worker's one round trip per job: record the previous job's outcome, promote due scheduled jobs,
-- reap abandoned ones, then take the next job by queue order and priority, or report when to look again.
-- ARGV: [1] now_us|'' [2] worker config JSON [3] execution id for the next job [4] outcome JSON|'' [5] take|maint|none
proceed_when_full()

local function finish(p, cfg)
  redis.call('ZREM', K.wip .. p.queue, p.id .. ':' .. p.exec)
  local f = fields(p.id)
  if not f or f.state ~= 'running' or f.jl_exec ~= p.exec then return 'stale' end
  ix_move(p.id, f, 'running', nil)
  local wk = K.worker .. cfg.worker
  redis.call('HINCRBYFLOAT', wk, 'total_working_time', p.seconds)
  if p.ms then observe('duration', p.queue, p.ms) end
  if p.outcome == 'ok' then
    redis.call('HINCRBY', wk, 'successful_job_count', 1)
    redis.call('HSET', K.job .. p.id, 'result', p.result, 'jl_prog', '100')
    f.jl_prog = '100'
    enter_terminal(p.id, f, 'completed', cfg, p.ms)
    return 'completed'
  end
  if p.outcome == 'interrupted' then
    push_history(p.id, f, 'interrupted', p.error, NOW_ISO)
    redis.call('HSET', K.job .. p.id, 'started_at', '', 'worker_name', '', 'jl_exec', '')
    enter_pending(p.id, f, true)
    return 'requeued'
  end
  if p.outcome == 'canceled' then  -- stopped by a command that skipped cancel.lua: canceled, never retried
    enter_terminal(p.id, f, 'canceled', cfg)
    return 'canceled'
  end
  redis.call('HINCRBY', wk, 'failed_job_count', 1)
  return fail_attempt(p.id, f, p.error, p.trace, cfg, p.ms, p.outcome == 'refused')
end

local function start(jid, q, cfg, exec)
  local f = fields(jid)
  if not f or f.state ~= 'pending' then
    redis.call('ZREM', K.ix .. 'queue:' .. q .. ':pending', jid)
    return nil
  end
  ix_move(jid, f, 'pending', 'running', NOW)
  if f.jl_enq ~= '' then observe('wait', q, NOW_MS - tonumber(f.jl_enq)) end
  local attempt = (tonumber(f.jl_attempts) or 0) + 1
  local jk = K.job .. jid
  redis.call('HSET', jk, 'status', 'started', 'started_at', NOW_ISO, 'ended_at', '', 'worker_name', cfg.worker,
    'last_heartbeat', NOW_ISO, 'jl_exec', exec, 'jl_attempts', attempt, 'jl_upd', NOW_ISO, 'jl_prog', '0',
    'jl_step', '')
  redis.call('ZADD', K.wip .. q, NOW + cfg.lease, jid .. ':' .. exec)
  redis.call('HSET', K.worker .. cfg.worker, 'state', 'busy', 'current_job', jid)
  emit(jid, q, 'running', '0', '')
  if redis.call('ZCARD', K.ix .. 'queue:' .. q .. ':pending') > 0 then wake(q) end
  local extra = redis.call('HMGET', jk, 'data', 'timeout')
  return {id = jid, exec = exec, queue = q, attempt = attempt, timeout = extra[2], data = extra[1]}
end

local function take(cfg, exec)
  for _, q in ipairs(cfg.queues) do
    if redis.call('SISMEMBER', K.paused, q) == 0 then
      local qix = K.ix .. 'queue:' .. q .. ':pending'
      while true do
        local head = redis.call('ZRANGE', qix, 0, 0, 'WITHSCORES')
        if not head[1] then break end
        local priority = 5 - math.floor(tonumber(head[2]) / PRIORITY_SPAN)
        local jid = redis.call('LPOP', K.queue .. list_name(q, priority))
        if not jid then
          redis.call('ZREM', qix, head[1])
        else
          local job = start(jid, q, cfg, exec)
          if job then return job end
        end
      end
    end
  end
  return nil
end

local cfg = cjson.decode(ARGV[2])
local out = {}
if ARGV[4] ~= '' then out.finished = finish(cjson.decode(ARGV[4]), cfg) end
local wk = K.worker .. cfg.worker
redis.call('HSET', wk, 'last_heartbeat', NOW_ISO)
redis.call('EXPIRE', wk, cfg.worker_ttl)
for _, q in ipairs(cfg.queues) do
  promote(q, 200)
  reap(q, cfg)
end
if ARGV[5] == 'maint' then
  -- Age and count limits over every queue, served or not: old jobs go even where no worker runs.
  for _, q in ipairs(redis.call('SMEMBERS', K.jl_queues)) do
    for status, _ in pairs(TERMINAL) do trim(q, status, cfg.keep[status]) end
  end
end
if ARGV[5] ~= 'none' then
  local job = take(cfg, ARGV[3])
  if job then
    local data = job.data
    job.data = nil
    out.job = job
    return {cjson.encode(out), data}
  end
end
redis.call('HSET', wk, 'state', 'idle', 'current_job', '')
local due = nil
for _, q in ipairs(cfg.queues) do
  local head = redis.call('ZRANGE', K.scheduled .. q, 0, 0, 'WITHSCORES')
  if head[2] and (due == nil or tonumber(head[2]) < due) then due = tonumber(head[2]) end
end
if due then out.due_in = string.format('%.3f', due - NOW) end
return {cjson.encode(out)}
