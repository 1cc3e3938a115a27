/**
 * Lua scripts of the Redis queue backend. Each runs atomically, so a delivery and its visibility deadline
 * (sorted set, score = deadline in ms) and delivery count (hash) are recorded together, and a message is never
 * left pending without a deadline that brings it back. Time comes from the Redis server, shared by replicas.
 * Stream entries carry the payload in field `p`.
 */

const common = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function payloadOf(fields)
  for i = 1, #fields, 2 do if fields[i] == 'p' then return fields[i + 1] end end
  return 'null'
end
local function deadLetter(stream, group, vis, dc, dlq, wakeDlq, isQueue, id, payload)
  redis.pcall('XGROUP', 'CREATE', dlq, 'q', '0', 'MKSTREAM')
  redis.call('XADD', dlq, '*', 'p', payload)
  redis.call('PUBLISH', wakeDlq, '1')
  redis.call('XACK', stream, group, id)
  if isQueue then redis.call('XDEL', stream, id) end
  redis.call('ZREM', vis, id)
  redis.call('HDEL', dc, id)
end
`;

/**
 * KEYS: topic stream. ARGV: default group, max length, payload, wake channel. The default group is created (at
 * the end of the stream) before the entry is added, so it exists from the topic's first publish and holds what
 * comes before its first subscribe; trimming bounds what it holds. Returns the entry id.
 */
export const PUBLISH = `
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', ARGV[3])
redis.call('PUBLISH', ARGV[4], '1')
return id
`;

/**
 * KEYS: stream, vis, dc, dlq. ARGV: group, consumer, max, visibilityMs, maxDeliveries, isQueue, group start id,
 * dlq wake channel. Reclaims overdue deliveries (XCLAIM by id: deadlines differ per delivery, so XAUTOCLAIM's
 * single idle time does not fit), then reads new entries. Returns {now, next deadline or -1, id, payload, count, …}.
 */
export const RECEIVE = `${common}
local stream, vis, dc, dlq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer = ARGV[1], ARGV[2]
local max, visMs, maxDel = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local isQueue = ARGV[6] == '1'
redis.pcall('XGROUP', 'CREATE', stream, group, ARGV[7], 'MKSTREAM')
local out = {}
local count = 0
local function deliver(id, fields)
  local n = redis.call('HINCRBY', dc, id, 1)
  if n > maxDel then
    deadLetter(stream, group, vis, dc, dlq, ARGV[8], isQueue, id, payloadOf(fields))
    return
  end
  redis.call('ZADD', vis, now + visMs, id)
  table.insert(out, id)
  table.insert(out, payloadOf(fields))
  table.insert(out, n)
  count = count + 1
end
local due = redis.call('ZRANGEBYSCORE', vis, '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(due) do
  local c = redis.call('XCLAIM', stream, group, consumer, 0, id)
  if #c == 0 or not c[1] or not c[1][2] then
    -- trimmed away (topic streams are capped) or gone: nothing left to deliver
    redis.call('XACK', stream, group, id)
    redis.call('ZREM', vis, id)
    redis.call('HDEL', dc, id)
  else
    deliver(c[1][1], c[1][2])
  end
end
if count < max then
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - count, 'STREAMS', stream, '>')
  if r then for _, e in ipairs(r[1][2]) do deliver(e[1], e[2]) end end
end
local nxt = redis.call('ZRANGE', vis, 0, 0, 'WITHSCORES')
table.insert(out, 1, now)
table.insert(out, 2, nxt[2] or '-1')
return out
`;

/**
 * KEYS: stream, vis, dc, acked. ARGV: group, id, isQueue. Returns 1 acked, 0 already acked, -1 unknown.
 * Acked ids are remembered (the last 10000, for an hour after the last ack) so a repeated ack is not a 404.
 */
export const ACK = `${common}
local stream, vis, dc, acked = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, id = ARGV[1], ARGV[2]
if not string.match(id, '^%d+%-%d+$') then return -1 end
local n = redis.pcall('XACK', stream, group, id)
if n == 1 then
  redis.call('ZREM', vis, id)
  redis.call('HDEL', dc, id)
  if ARGV[3] == '1' then redis.call('XDEL', stream, id) end
  redis.call('ZADD', acked, now, id)
  redis.call('ZREMRANGEBYRANK', acked, 0, -10001)
  redis.call('PEXPIRE', acked, 3600000)
  return 1
end
if redis.call('ZSCORE', acked, id) then return 0 end
return -1
`;

/**
 * KEYS: stream, vis, dc, dlq. ARGV: group, id, mode (requeue|release|dead-letter), isQueue, stream wake
 * channel, dlq wake channel. Returns 1, or 0 when the id is not in flight.
 */
export const NACK = `${common}
local stream, vis, dc, dlq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, id, mode = ARGV[1], ARGV[2], ARGV[3]
local isQueue = ARGV[4] == '1'
if not redis.call('ZSCORE', vis, id) then return 0 end
if mode == 'dead-letter' then
  local e = redis.call('XRANGE', stream, id, id)
  local payload = 'null'
  if #e > 0 then payload = payloadOf(e[1][2]) end
  deadLetter(stream, group, vis, dc, dlq, ARGV[6], isQueue, id, payload)
  return 1
end
if mode == 'release' then redis.call('HINCRBY', dc, id, -1) end
redis.call('ZADD', vis, 0, id)
redis.call('PUBLISH', ARGV[5], '1')
return 1
`;

/** KEYS: stream. Entries not yet delivered: the stream's length minus the group's pending deliveries. */
export const LEN = `
local l = redis.call('XLEN', KEYS[1])
local p = redis.pcall('XPENDING', KEYS[1], 'q')
if type(p) == 'table' and type(p[1]) == 'number' then l = l - p[1] end
return l
`;
