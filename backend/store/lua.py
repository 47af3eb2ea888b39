"""The Lua scripts that make RedisStore's scheduling operations atomic.

Each script's comment names its KEYS and ARGV in order; durations are in milliseconds, and
the scripts that need the time read the Redis server's clock (``NOW_MS``).
"""

NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

#: A local function appending a change to a project's log (its key and its base's), then
#: dropping the oldest entries beyond ``keep``, counted in the base (positions stay absolute).
APPEND_CHANGE = """
local function append_change(log, base, entry, keep)
  local n = redis.call('RPUSH', log, entry)
  local drop = n - tonumber(keep)
  if drop > 0 then
    redis.call('LTRIM', log, drop, -1)
    redis.call('INCRBY', base, drop)
  end
end
"""

# KEYS: ticket, due, burst, projects, live, change log, change log base, instant hand-off.
# ARGV: new ticket, immediate, debounce ms, max wait ms, ttl ms, project, a change-log entry
# ('' for none: appended first, as LOG_CHANGE does), entries the log keeps, hand-off ms
# ('0': none). Returns the ticket, 1 if created, the countdown ms, 1 if this call set the
# instant hand-off flag (the live record says instant, a hand-off asked for and none
# pending: the caller sends the one instant message).
SCHEDULE = (
    NOW_MS
    + APPEND_CHANGE
    + """
redis.call('SADD', KEYS[4], ARGV[6])
if ARGV[7] ~= '' then append_change(KEYS[6], KEYS[7], ARGV[7], ARGV[8]) end
local ticket = redis.call('GET', KEYS[1])
local created = 0
if not ticket then
  ticket = ARGV[1]
  created = 1
  redis.call('SET', KEYS[1], ticket, 'PX', ARGV[5])
  redis.call('SET', KEYS[3], now, 'PX', ARGV[5])
end
local burst = tonumber(redis.call('GET', KEYS[3]) or now)
if ARGV[2] == '1' then
  burst = now - tonumber(ARGV[4])
  redis.call('SET', KEYS[3], burst, 'PX', ARGV[5])
end
local due = math.min(now + tonumber(ARGV[3]), burst + tonumber(ARGV[4]))
redis.call('SET', KEYS[2], due, 'PX', ARGV[5])
local hand_off = 0
if ARGV[9] ~= '0' and redis.call('HGET', KEYS[5], 'instant') == 'true'
    and redis.call('SET', KEYS[8], '1', 'NX', 'PX', ARGV[9]) then
  hand_off = 1
end
return {ticket, created, math.max(due - now, 0), hand_off}
"""
)

# KEYS: ticket, due, burst, lock, running, stage, owner.
# ARGV: ticket, owner, lock ms, lease ms, ttl ms
CLAIM_BEGIN = (
    NOW_MS
    + """
local lock = redis.call('GET', KEYS[4])
if redis.call('GET', KEYS[5]) == ARGV[1] and (not lock or lock == ARGV[1]) then
  if redis.call('GET', KEYS[6]) ~= 'begin' then return {'stale', 0} end
  if redis.call('EXISTS', KEYS[7]) == 1 then return {'wait', 0} end
  redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[3])
  redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[4])
  return {'run', 0}
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'stale', 0} end
local due = tonumber(redis.call('GET', KEYS[2]) or '0')
if due > now or lock then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  if due > now then return {'defer', due - now} end
  return {'wait', 0}
end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[5], ARGV[1])
redis.call('SET', KEYS[6], 'begin')
redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'run', 0}
"""
)

# KEYS: lock, running, stage, owner. ARGV: ticket, owner ('' = none), lock ms, lease ms, stage
CLAIM_STEP = """
local lock = redis.call('GET', KEYS[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (lock and lock ~= ARGV[1]) then return {'stale', 0} end
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[4])
  if current and current ~= ARGV[2] then return {'wait', 0} end
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
  redis.call('SET', KEYS[3], ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return {'run', 0}
"""

# KEYS: lock, running, owner. ARGV: ticket, owner ('' = none), lock ms, lease ms
RENEW = """
local lock = redis.call('GET', KEYS[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (lock and lock ~= ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[3])
  if current and current ~= ARGV[2] then return 0 end
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[4])
end
return 1
"""

# KEYS: lock, running, stage, owner. ARGV: ticket
RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""

# KEYS: key. ARGV: expected value
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: running, stage. ARGV: ticket, stage
SET_STAGE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
"""

# KEYS: credentials, config, version, projects. ARGV: url, token, config hash, project
# ('' = not given). Records a project /setup connected; returns its current version.
# A token is kept with the URL it came with: a new URL without a token drops the old token.
REMEMBER = """
redis.call('SADD', KEYS[4], ARGV[4])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'url', ARGV[1], 'token', ARGV[2])
elseif ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'url') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'url', ARGV[1])
  redis.call('HDEL', KEYS[1], 'token')
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'NX') end
return redis.call('GET', KEYS[3])
"""

# KEYS: version, predictions, flags, verdicts, events, live.
# ARGV: version, changes (JSON: hash name -> {field: JSON text, or null to delete}), now,
# count (how many instant updates this is). Applies the changes only while ARGV[1] is current.
UPDATE_LIVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local changes = cjson.decode(ARGV[2])
local names = {'predictions', 'flags', 'verdicts', 'events'}
for i, name in ipairs(names) do
  local items = changes[name]
  if type(items) == 'table' then
    for field, value in pairs(items) do
      if value == cjson.null then
        redis.call('HDEL', KEYS[i + 1], field)
      else
        redis.call('HSET', KEYS[i + 1], field, value)
      end
    end
  end
end
if tonumber(ARGV[4]) > 0 and redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('HINCRBY', KEYS[6], 'updates', tonumber(ARGV[4]))
  redis.call('HSET', KEYS[6], 'updated_at', ARGV[3])
end
return 1
"""

#: Several rows' state at once (KEYS: predictions, flags, verdicts, events; ARGV: task,
#: annotation, task, annotation, ...): the four HMGET answers, tasks' then annotations'.
ROW_STATES = """
local tasks, annotations = {}, {}
for i = 1, #ARGV, 2 do
  tasks[#tasks + 1] = ARGV[i]
  annotations[#annotations + 1] = ARGV[i + 1]
end
return {
  redis.call('HMGET', KEYS[1], unpack(tasks)),
  redis.call('HMGET', KEYS[2], unpack(tasks)),
  redis.call('HMGET', KEYS[3], unpack(annotations)),
  redis.call('HMGET', KEYS[4], unpack(annotations)),
}
"""

#: Append a change to a project's log (KEYS: log, base; ARGV: entry, keep), as APPEND_CHANGE.
LOG_CHANGE = (
    APPEND_CHANGE
    + """
append_change(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
"""
)

#: Clear the instant hand-off flag and read the log from the instant position on, in one
#: step (a change logged after it sets the flag again). KEYS: hand-off flag, instant
#: position, log, base. Returns the log's end, then its entries from the position (from
#: the log's start when there is none, or it lies outside the log).
TAKE_INSTANT = """
redis.call('DEL', KEYS[1])
local base = tonumber(redis.call('GET', KEYS[4]) or '0')
local finish = base + redis.call('LLEN', KEYS[3])
local start = tonumber(redis.call('GET', KEYS[2]) or '-1')
if start < base or start > finish then start = base end
return {finish, redis.call('LRANGE', KEYS[3], start - base, -1)}
"""

#: Drop a log's entries before a position (KEYS: log, base; ARGV: position).
TRIM_CHANGES = """
local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local drop = tonumber(ARGV[1]) - base
if drop > 0 then
  local n = redis.call('LLEN', KEYS[1])
  if drop > n then drop = n end
  redis.call('LTRIM', KEYS[1], drop, -1)
  redis.call('INCRBY', KEYS[2], drop)
end
return 1
"""
