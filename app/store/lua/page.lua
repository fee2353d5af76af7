-- One page of a job listing, with its counts and the jobs' hashes, in one round trip.
-- A listing is a sequence of segments (running, pending, scheduled, terminal ...); a segment merges
-- one or more sorted sets that share an order (dir 1: ascending score, -1: descending). Pages are
-- found by rank (one key) or by a binary search on score over ZCOUNT (several keys), so their cost
-- does not depend on how many jobs are stored. With a post-filter (combined filters no single index
-- covers), the segments are scanned and the fields compared; that cost grows with the driver index.
-- ARGV: [1] now_us|'' [2] request JSON: {segments=[{keys, dir, strip}], offset|cursor, limit, filter, counts,
--   reads}: `reads` are cheap reads riding along ({cmd, key, args...}, lib.lua's cheap_reads), e.g. the
--   queue's own counts and pause flag for GET /queues/{name}, so that a queue page is one round trip.

local req = cjson.decode(ARGV[2])
local FILTER_FIELDS = {'origin', 'jl_task', 'jl_trig', 'jl_wf'}
local SCAN_CHUNK = 500

local function fmt(x)
  if x == math.huge then return '+inf' elseif x == -math.huge then return '-inf' end
  return string.format('%.17g', x)
end

local function before(a, b, dir)
  if a[1] ~= b[1] then
    if dir == 1 then return a[1] < b[1] else return a[1] > b[1] end
  end
  if dir == 1 then return a[2] < b[2] else return a[2] > b[2] end
end

local function pairs_of(flat)
  local out = {}
  for i = 1, #flat, 2 do out[#out + 1] = {tonumber(flat[i + 1]), flat[i]} end
  return out
end

-- Up to n entries at or after score x (in segment order), from every key, merged.
local function fetch_from(seg, x, n, strict)
  local all = {}
  for _, key in ipairs(seg.keys) do
    local got
    if seg.dir == 1 then
      got = redis.call('ZRANGEBYSCORE', key, (strict and '(' or '') .. fmt(x), '+inf', 'WITHSCORES', 'LIMIT', 0, n)
    else
      got = redis.call('ZREVRANGEBYSCORE', key, (strict and '(' or '') .. fmt(x), '-inf', 'WITHSCORES', 'LIMIT', 0, n)
    end
    for _, e in ipairs(pairs_of(got)) do all[#all + 1] = e end
  end
  table.sort(all, function(a, b) return before(a, b, seg.dir) end)
  return all
end

-- Entries strictly after the cursor entry {score, member}.
local function fetch_after(seg, cur, n)
  local all = {}
  for _, key in ipairs(seg.keys) do
    for _, e in ipairs(pairs_of(redis.call('ZRANGEBYSCORE', key, fmt(cur[1]), fmt(cur[1]), 'WITHSCORES'))) do
      if before(cur, e, seg.dir) then all[#all + 1] = e end
    end
  end
  for _, e in ipairs(fetch_from(seg, cur[1], n, true)) do all[#all + 1] = e end
  table.sort(all, function(a, b) return before(a, b, seg.dir) end)
  return all
end

local function first(seg, n)
  if #seg.keys == 1 then
    local got
    if seg.dir == 1 then got = redis.call('ZRANGE', seg.keys[1], 0, n - 1, 'WITHSCORES')
    else got = redis.call('ZREVRANGE', seg.keys[1], 0, n - 1, 'WITHSCORES') end
    return pairs_of(got)
  end
  return fetch_from(seg, seg.dir == 1 and -math.huge or math.huge, n, false)
end

local function count_before(seg, x)
  local c = 0
  for _, key in ipairs(seg.keys) do
    if seg.dir == 1 then c = c + redis.call('ZCOUNT', key, '-inf', '(' .. fmt(x))
    else c = c + redis.call('ZCOUNT', key, '(' .. fmt(x), '+inf') end
  end
  return c
end

local function edge(seg, want_first)
  local best = nil
  for _, key in ipairs(seg.keys) do
    local got
    if (seg.dir == 1) == want_first then got = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    else got = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES') end
    if got[2] then
      local s = tonumber(got[2])
      if best == nil or ((seg.dir == 1) == want_first and s < best) or ((seg.dir == 1) ~= want_first and s > best) then
        best = s
      end
    end
  end
  return best
end

-- Entries at positions offset .. offset+n-1 of a segment.
local function at_offset(seg, offset, n)
  if #seg.keys == 1 then
    local got
    if seg.dir == 1 then got = redis.call('ZRANGE', seg.keys[1], offset, offset + n - 1, 'WITHSCORES')
    else got = redis.call('ZREVRANGE', seg.keys[1], offset, offset + n - 1, 'WITHSCORES') end
    return pairs_of(got)
  end
  local a, b = edge(seg, true), edge(seg, false)
  if a == nil then return {} end
  b = b + seg.dir  -- past the last entry: count_before(b) = total > offset
  local ca = 0
  for _ = 1, 80 do
    if ca == offset then break end
    local mid = (a + b) / 2
    if mid == a or mid == b then break end
    local cm = count_before(seg, mid)
    if cm <= offset then a, ca = mid, cm else b = mid end
  end
  local skip = offset - ca
  local got = fetch_from(seg, a, skip + n, false)
  local out = {}
  for i = skip + 1, math.min(#got, skip + n) do out[#out + 1] = got[i] end
  return out
end

local function seg_total(seg)
  local c = 0
  for _, key in ipairs(seg.keys) do c = c + redis.call('ZCARD', key) end
  return c
end

local function id_of(seg, member)
  if seg.strip then
    local sep = string.find(member, ':', 1, true)
    if sep then return string.sub(member, 1, sep - 1) end
  end
  return member
end

local function matches(id)
  local got = redis.call('HMGET', K.job .. id, unpack(FILTER_FIELDS))
  if not got[1] then return false end
  for i, name in ipairs(FILTER_FIELDS) do
    local want = req.filter[name]
    if want ~= nil and want ~= (got[i] or '') then return false end
  end
  return true
end

-- Walk a segment in order from a position, calling visit(entry) until it answers false.
local function walk(seg, cur, visit)
  while true do
    local chunk
    if cur then chunk = fetch_after(seg, cur, SCAN_CHUNK) else chunk = first(seg, SCAN_CHUNK) end
    if #chunk == 0 then return end
    for i = 1, math.min(#chunk, SCAN_CHUNK) do
      if not visit(chunk[i]) then return end
      cur = chunk[i]
    end
    if #chunk < SCAN_CHUNK then return end
  end
end

local function filtered_total(seg)
  local n = 0
  walk(seg, nil, function(e)
    if matches(id_of(seg, e[2])) then n = n + 1 end
    return true
  end)
  return n
end

local picked, totals, next_cursor = {}, {}, nil
local plain = req.filter == nil or req.filter == cjson.null
local limit = req.limit

local function take_plain(si, seg, entries)
  for _, e in ipairs(entries) do
    if #picked == limit then
      return true
    end
    picked[#picked + 1] = id_of(seg, e[2])
    next_cursor = {si, fmt(e[1]), e[2]}
  end
  return false  -- a full page is done only once an entry past it is seen (here or in a later segment)
end

for si, seg in ipairs(req.segments) do
  if plain then totals[si] = seg_total(seg) else totals[si] = filtered_total(seg) end
end

local skip = req.offset or 0
local start_seg, cur = 1, nil
if req.cursor and req.cursor ~= cjson.null then
  start_seg, cur, skip = req.cursor[1], {tonumber(req.cursor[2]), req.cursor[3]}, 0
end

local done = false
for si = start_seg, #req.segments do
  local seg = req.segments[si]
  if done then break end
  if plain then
    if skip >= totals[si] and cur == nil then
      skip = skip - totals[si]
    else
      local want = limit - #picked + 1
      local entries
      if cur then entries = fetch_after(seg, cur, want) elseif skip > 0 then entries = at_offset(seg, skip, want)
      else entries = first(seg, want) end
      skip, cur = 0, nil
      done = take_plain(si, seg, entries)
    end
  else
    walk(seg, cur, function(e)
      local id = id_of(seg, e[2])
      if not matches(id) then return true end
      if skip > 0 then skip = skip - 1 return true end
      if #picked == limit then done = true return false end
      picked[#picked + 1] = id
      next_cursor = {si, fmt(e[1]), e[2]}
      return true
    end)
    cur = nil
  end
end

if not done then next_cursor = nil end
local counts = {}
for i, group in ipairs(req.counts or {}) do
  local c = 0
  for _, seg in ipairs(group) do
    if plain then c = c + seg_total(seg) else c = c + filtered_total(seg) end
  end
  counts[i] = c
end

local reads, refused = cheap_reads(req.reads, 'page.lua')
if not reads then return redis.error_reply(refused) end

local result = {cjson.encode({ids = picked, totals = totals, counts = counts, next = next_cursor, reads = reads})}
for _, id in ipairs(picked) do result[#result + 1] = redis.call('HGETALL', K.job .. id) end
return result
