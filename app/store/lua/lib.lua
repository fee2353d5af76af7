-- Shared helpers of every Jobline script. `K` (key prefixes) and `NOW_*` are defined by the prelude
-- that app/store/scripts.py generates from app/keys.py; no key literal lives in Lua.
-- Status words: Jobline's (pending, running, ...) in indexes, rq's (queued, started, ...) in job hashes.

local RQS = {pending = 'queued', running = 'started', scheduled = 'scheduled',
             completed = 'finished', failed = 'failed', canceled = 'canceled'}
local FROM_RQ = {queued = 'pending', started = 'running', scheduled = 'scheduled', finished = 'completed',
                 failed = 'failed', canceled = 'canceled', deferred = 'scheduled', stopped = 'canceled',
                 created = 'pending'}
local TERMINAL = {completed = K.finished, failed = K.failed, canceled = K.canceled}
local FIELDS = {'status', 'origin', 'jl_task', 'jl_trig', 'jl_wf', 'jl_pri', 'jl_exec', 'worker_name',
                'jl_retry', 'jl_maxr', 'jl_attempts', 'started_at', 'jl_err', 'jl_hist', 'jl_prog', 'jl_step',
                'jl_enq'}
local PRIORITY_SPAN = 10000000000000  -- pending order score: (5 - priority) * span + enqueue ms

local function iso(us)
  local s = math.floor(us / 1000000)
  local frac = us - s * 1000000
  local days = math.floor(s / 86400)
  local rem = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', y, m, d,
    math.floor(rem / 3600), math.floor((rem % 3600) / 60), rem % 60, frac)
end
local NOW_ISO = iso(NOW_US)

local function fields(jid)
  local values = redis.call('HMGET', K.job .. jid, unpack(FIELDS))
  if not values[1] then return nil end
  local f = {}
  for i, name in ipairs(FIELDS) do f[name] = values[i] or '' end
  f.state = FROM_RQ[f.status] or 'pending'
  return f
end

-- A Redis over maxmemory (noeviction) refuses a script's first write that may grow memory, but never
-- stops a script that has already written (it could not undo its half). Scripts that move existing jobs
-- forward or free memory (claim, heartbeat, progress, cancel, delete, retry, bulk) therefore begin with
-- a write Redis allows when full and that changes nothing (HDEL of a field that never exists), so a full
-- Redis keeps running, finishing and trimming jobs, and keeps leases alive, while new jobs (submit,
-- workflow runs) are refused: backpressure instead of a stall.
local function proceed_when_full()
  redis.call('HDEL', K.lifetime, '')
end

local function list_name(queue, priority)
  if priority == 0 then return queue end
  return queue .. '@' .. priority
end

local function dim_prefixes(f)
  local d = {K.ix .. 'task:' .. f.jl_task .. ':', K.ix .. 'trigger:' .. f.jl_trig .. ':'}
  if f.jl_wf ~= '' then d[3] = K.ix .. 'wf:' .. f.jl_wf .. ':' .. f.jl_trig .. ':' end
  return d
end

-- Move a job between the listing indexes of two statuses (either may be nil).
local function ix_move(jid, f, from, to, score)
  for _, p in ipairs(dim_prefixes(f)) do
    if from then redis.call('ZREM', p .. from, jid) end
    if to then redis.call('ZADD', p .. to, score, jid) end
  end
  -- Per queue, only where rq gives no stable order: pending (one list per priority) and running
  -- (rq's registry is scored by lease expiry, which every heartbeat moves: cursors would skip jobs).
  local qix = K.ix .. 'queue:' .. f.origin .. ':'
  if from == 'pending' or from == 'running' then redis.call('ZREM', qix .. from, jid) end
  if to == 'pending' or to == 'running' then redis.call('ZADD', qix .. to, score, jid) end
end

local function emit(jid, queue, status, progress, step)
  redis.call('XADD', K.events, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'id', jid, 'queue', queue,
    'status', status, 'progress', progress or '', 'step', step or '', 'ts', NOW_ISO)
end

local function wake(queue)
  redis.call('LPUSH', K.wake .. queue, '1')
  redis.call('LTRIM', K.wake .. queue, 0, 0)
end

-- One observation of a histogram (kind: duration, wait, lag) of one queue: its bucket and its sum, in ms.
-- HIST_BOUNDS comes from app/store/metrics.py via the prelude. Buckets are stored per bound, not
-- cumulative; a hash per (kind, queue), so memory is bounded by queues.
local function observe(kind, queue, ms)
  ms = math.max(0, math.floor(tonumber(ms) or 0))
  local bucket = 'inf'
  for _, le in ipairs(HIST_BOUNDS) do
    if ms <= le then
      bucket = tostring(le)
      break
    end
  end
  local key = K.hist .. kind .. ':' .. queue
  redis.call('HINCRBY', key, bucket, 1)
  redis.call('HINCRBY', key, 'sum', ms)
end

-- Remove a job from the rq structure and the indexes of the status it is in.
local function leave(jid, f)
  local q, st = f.origin, f.state
  if st == 'pending' then
    redis.call('LREM', K.queue .. list_name(q, tonumber(f.jl_pri) or 0), 1, jid)
  elseif st == 'scheduled' then
    redis.call('ZREM', K.scheduled .. q, jid)
    redis.call('ZREM', K.retrying .. q, jid)
  elseif st == 'running' then
    redis.call('ZREM', K.wip .. q, jid .. ':' .. f.jl_exec)
  else
    redis.call('ZREM', TERMINAL[st] .. q, jid)
  end
  ix_move(jid, f, st, nil)
end

local function delete_job(jid, f)
  if f then leave(jid, f) end
  redis.call('DEL', K.job .. jid, K.logs .. jid, K.results .. jid, K.executions .. jid)
end

local function push_history(jid, f, status, err, ended)
  if f.started_at == '' then return end
  local hist = {}
  if f.jl_hist ~= '' then hist = cjson.decode(f.jl_hist) end
  hist[#hist + 1] = {attempt = tonumber(f.jl_attempts) or 1, status = status, error = err,
                     workerId = f.worker_name, startedAt = f.started_at, completedAt = ended}
  while #hist > 24 do table.remove(hist, 1) end
  redis.call('HSET', K.job .. jid, 'jl_hist', cjson.encode(hist))
end

-- A pending job's order score: its priority band, then its place in the rq list. Scores in a band strictly
-- increase (front: decrease), so the listing shows the run order even within one millisecond.
local function pending_score(queue, pri, front)
  local band = (5 - pri) * PRIORITY_SPAN
  local lo, hi = string.format('%.17g', band), '(' .. string.format('%.17g', band + PRIORITY_SPAN)
  local qix = K.ix .. 'queue:' .. queue .. ':pending'
  local got
  if front then
    got = redis.call('ZRANGEBYSCORE', qix, lo, hi, 'WITHSCORES', 'LIMIT', 0, 1)
    if got[2] then return math.max(band, math.min(tonumber(got[2]), band + NOW_MS) - 1) end
  else
    got = redis.call('ZREVRANGEBYSCORE', qix, hi, lo, 'WITHSCORES', 'LIMIT', 0, 1)
    if got[2] then return math.max(tonumber(got[2]) + 1, band + NOW_MS) end
  end
  return band + NOW_MS
end

local function enter_pending(jid, f, front)
  local pri = tonumber(f.jl_pri) or 0
  local lkey = K.queue .. list_name(f.origin, pri)
  local score = pending_score(f.origin, pri, front)
  if front then redis.call('LPUSH', lkey, jid) else redis.call('RPUSH', lkey, jid) end
  redis.call('SADD', K.queues, lkey)
  ix_move(jid, f, nil, 'pending', score)
  redis.call('HSET', K.job .. jid, 'status', 'queued', 'enqueued_at', NOW_ISO, 'jl_upd', NOW_ISO, 'jl_runat', '',
    'jl_enq', NOW_MS)
  wake(f.origin)
  emit(jid, f.origin, 'pending', f.jl_prog, f.jl_step)
end

local function enter_scheduled(jid, f, run_at, is_retry)
  redis.call('ZADD', K.scheduled .. f.origin, run_at, jid)
  if is_retry then redis.call('ZADD', K.retrying .. f.origin, run_at, jid) end
  ix_move(jid, f, nil, 'scheduled', run_at)
  redis.call('HSET', K.job .. jid, 'status', 'scheduled', 'jl_upd', NOW_ISO, 'jl_runat', string.format('%.3f', run_at))
  wake(f.origin)
  emit(jid, f.origin, 'scheduled', f.jl_prog, f.jl_step)
end

-- Throughput buckets (10 s, 1 min, 1 h); durations only in the minute buckets (the stats average the
-- last hour of them). A bucket gets its TTL on its first write, so a finish costs ~6 commands, not 13.
local function count_finished(queue, status, duration_ms)
  redis.call('HINCRBY', K.lifetime, queue .. ':' .. status, 1)
  for _, g in ipairs({{'10s', 10, 7200}, {'1m', 60, 7200}, {'1h', 3600, 172800}}) do
    local key = K.tp .. g[1] .. ':' .. math.floor(NOW / g[2])
    if redis.call('HINCRBY', key, status, 1) == 1 then redis.call('EXPIRE', key, g[3]) end
    if duration_ms and g[1] == '1m' then
      redis.call('HINCRBY', key, 'timed', 1)
      redis.call('HINCRBY', key, 'dur_ms', duration_ms)
    end
  end
end

-- Keep a terminal registry within its count and age limits; trimmed jobs leave Redis entirely.
-- Job hashes get no TTL: trimming (here, on every finish, and in the workers' maintenance over every
-- queue) is the only way a job goes, so registries and indexes never hold ids of vanished jobs.
local function trim(queue, status, keep)
  local key = TERMINAL[status] .. queue
  local victims = redis.call('ZRANGEBYSCORE', key, '-inf', NOW, 'LIMIT', 0, 200)
  local n = redis.call('ZCARD', key) - #victims
  if n > keep then
    local extra = redis.call('ZRANGE', key, #victims, #victims + math.min(n - keep, 1000) - 1)
    for _, jid in ipairs(extra) do victims[#victims + 1] = jid end
  end
  for _, jid in ipairs(victims) do
    redis.call('ZREM', key, jid)
    delete_job(jid, fields(jid))
  end
  return #victims
end

-- A workflow's AUTOMATIC run ended: success resets its failure streak; reaching the limit pauses it.
local function workflow_outcome(f, status)
  if f.jl_wf == '' or f.jl_trig ~= 'AUTOMATIC' then return end
  local wk = K.workflow .. f.jl_wf
  if redis.call('EXISTS', wk) == 0 then return end
  if status == 'completed' then
    redis.call('HSET', wk, 'consecutiveFailures', 0)
    return
  end
  if status ~= 'failed' then return end
  local n = redis.call('HINCRBY', wk, 'consecutiveFailures', 1)
  local w = redis.call('HMGET', wk, 'maxConsecutiveFailures', 'status')
  local limit = tonumber(w[1]) or 0
  if limit > 0 and n >= limit and w[2] == 'active' then
    redis.call('HSET', wk, 'status', 'paused', 'nextRunAt', '', 'updatedAt', NOW_ISO, 'pausedReason',
      string.format('paused after %d consecutive failed runs (maxConsecutiveFailures %d)', n, limit))
    redis.call('HINCRBY', wk, 'version', 1)
    redis.call('ZREM', K.wf_due, f.jl_wf)
    redis.call('PUBLISH', K.wf_changed, f.jl_wf)
  end
end

local function enter_terminal(jid, f, status, cfg, duration_ms)
  local score = NOW + cfg.ttl
  redis.call('ZADD', TERMINAL[status] .. f.origin, score, jid)
  ix_move(jid, f, nil, status, score)
  redis.call('HSET', K.job .. jid, 'status', RQS[status], 'ended_at', NOW_ISO)
  -- A retained job keeps only what it shows: updatedAt is ended_at, the run bookkeeping goes (memory per job).
  redis.call('HDEL', K.job .. jid, 'jl_upd', 'jl_runat', 'enqueued_at', 'last_heartbeat', 'jl_exec', 'jl_enq')
  if f.jl_step == '' then redis.call('HDEL', K.job .. jid, 'jl_step') end
  count_finished(f.origin, status, duration_ms)
  workflow_outcome(f, status)
  local progress = f.jl_prog
  if status == 'completed' then progress = '100' end
  emit(jid, f.origin, status, progress, f.jl_step)
  trim(f.origin, status, cfg.keep[status])
end

-- A running attempt failed (error, timeout, abandoned): retry after a delay or fail for good.
local function fail_attempt(jid, f, err, trace, cfg, duration_ms, no_retry)
  local retry, maxr = tonumber(f.jl_retry) or 0, tonumber(f.jl_maxr) or 0
  local jk = K.job .. jid
  if retry < maxr and not no_retry then
    retry = retry + 1
    push_history(jid, f, 'failed', err, NOW_ISO)
    redis.call('HSET', jk, 'jl_retry', retry, 'jl_err', '', 'jl_trace', '', 'started_at', '', 'ended_at', '',
      'worker_name', '', 'jl_exec', '')
    local delay = cfg.delays[math.min(retry, #cfg.delays)]
    if delay <= 0 then enter_pending(jid, f, false) else enter_scheduled(jid, f, NOW + delay, true) end
    return 'retry'
  end
  redis.call('HSET', jk, 'jl_err', err, 'jl_trace', trace)
  enter_terminal(jid, f, 'failed', cfg, duration_ms)
  return 'failed'
end

-- Send a failed or canceled job back to pending with the same id; its last attempt goes into history.
local function send_back(jid, f)
  leave(jid, f)
  local ended = redis.call('HGET', K.job .. jid, 'ended_at') or NOW_ISO
  push_history(jid, f, f.state, f.jl_err ~= '' and f.jl_err or nil, ended)
  redis.call('HSET', K.job .. jid, 'jl_retry', 0)
  redis.call('HDEL', K.job .. jid, 'jl_err', 'jl_trace', 'result', 'started_at', 'ended_at', 'worker_name',
    'jl_exec', 'jl_prog', 'jl_step')
  redis.call('PERSIST', K.job .. jid)
  f.jl_prog, f.jl_step = '', ''
  enter_pending(jid, f, false)
end

-- Move due scheduled jobs (delayed submits and retries) of a queue to pending.
local function promote(queue, limit)
  local due = redis.call('ZRANGEBYSCORE', K.scheduled .. queue, '-inf', NOW, 'LIMIT', 0, limit)
  for _, jid in ipairs(due) do
    redis.call('ZREM', K.scheduled .. queue, jid)
    redis.call('ZREM', K.retrying .. queue, jid)
    local f = fields(jid)
    if f and f.state == 'scheduled' then
      ix_move(jid, f, 'scheduled', nil)
      enter_pending(jid, f, false)
    end
  end
  return #due
end

-- Running jobs whose lease expired lost their worker (killed, machine gone): retry or fail them.
local function reap(queue, cfg)
  local expired = redis.call('ZRANGEBYSCORE', K.wip .. queue, '-inf', NOW, 'LIMIT', 0, 100)
  for _, member in ipairs(expired) do
    redis.call('ZREM', K.wip .. queue, member)
    local sep = string.find(member, ':', 1, true)
    local jid, exec = string.sub(member, 1, (sep or 0) - 1), string.sub(member, (sep or #member) + 1)
    local f = fields(jid)
    if f and f.state == 'running' and f.jl_exec == exec then
      ix_move(jid, f, 'running', nil)
      fail_attempt(jid, f, 'abandoned: worker ' .. f.worker_name .. ' stopped sending heartbeats', '', cfg)
    end
  end
  return #expired
end

-- Reads a caller asks for by name, riding along one call (reads.lua; a queue's counts with its page in
-- page.lua): only cheap ones, O(1) or O(log n) with a LIMIT. Returns the replies in order, or nil and
-- the reason a read was refused.
local CHEAP_READS = {LLEN = true, ZCARD = true, SCARD = true, SISMEMBER = true, EXISTS = true, HGET = true,
                     HGETALL = true, ZRANGEBYSCORE = true}
local function cheap_reads(list, script)
  local out = {}
  for i, r in ipairs(list or {}) do
    if not CHEAP_READS[r[1]] then return nil, script .. ': read not allowed: ' .. tostring(r[1]) end
    if r[1] == 'ZRANGEBYSCORE' and r[#r - 2] ~= 'LIMIT' then
      return nil, script .. ': ZRANGEBYSCORE needs a LIMIT'
    end
    out[i] = redis.call(unpack(r))
  end
  return out
end
