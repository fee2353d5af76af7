-- Fire due workflow runs, each exactly once however many schedulers race for it: the run is taken
-- only if the workflow's due score is still the planned time the caller saw (compare-and-set), and a
-- claim key per (workflow, planned time) refuses a second job for the same slot. The job is created
-- in the same script, so a scheduler dying half-way cannot lose or double a run.
-- ARGV: [1] now_us|'' [2] JSON list of {wf, planned, slot, next, ver, job} (times in epoch ms)

local FINISHED_RQ = {finished = true, failed = true, canceled = true, stopped = true}

local function fire_one(r)
  local wk = K.workflow .. r.wf
  local cur = redis.call('ZSCORE', K.wf_due, r.wf)
  if not cur or tonumber(cur) ~= r.planned then return 'moved' end
  local w = redis.call('HMGET', wk, 'status', 'version', 'job_fields', 'data', 'overlap', 'lastJobId')
  if not w[1] then
    redis.call('ZREM', K.wf_due, r.wf)
    return 'missing'
  end
  if w[1] ~= 'active' then
    redis.call('ZREM', K.wf_due, r.wf)
    return 'inactive'
  end
  if tonumber(w[2]) ~= r.ver then return 'stale' end
  redis.call('ZADD', K.wf_due, r.next, r.wf)
  redis.call('HSET', wk, 'nextRunAt', string.format('%d', r.next))
  if w[5] == 'skip' and w[6] and w[6] ~= '' then
    local previous = redis.call('HGET', K.job .. w[6], 'status')
    if previous and not FINISHED_RQ[previous] then  -- the last run is pending, running or waiting to retry
      redis.call('HINCRBY', wk, 'skippedRuns', 1)
      return 'skipped'
    end
  end
  if not redis.call('SET', K.wf_claim .. r.wf .. ':' .. string.format('%d', r.slot), r.job, 'NX', 'EX', 172800) then
    return 'duplicate'
  end
  local template = cjson.decode(w[3])
  local args = {}
  for k, v in pairs(template) do
    args[#args + 1] = k
    args[#args + 1] = v
  end
  for _, kv in ipairs({{'data', w[4]}, {'created_at', NOW_ISO}, {'jl_upd', NOW_ISO}, {'status', 'queued'},
                       {'jl_sched', iso(r.slot * 1000)}}) do
    args[#args + 1] = kv[1]
    args[#args + 1] = kv[2]
  end
  redis.call('HSET', K.job .. r.job, unpack(args))
  redis.call('SADD', K.jl_queues, template.origin)
  redis.call('HINCRBY', K.submitted, template.origin, 1)
  observe('lag', template.origin, NOW_MS - r.slot)
  enter_pending(r.job, fields(r.job), false)
  redis.call('HSET', wk, 'lastRunAt', string.format('%d', r.slot), 'lastJobId', r.job, 'updatedAt', NOW_ISO)
  redis.call('HINCRBY', wk, 'runCount', 1)
  return 'fired'
end

local runs = cjson.decode(ARGV[2])
local out = {}
for i, r in ipairs(runs) do out[i] = fire_one(r) end
return out
