"""The Lua scripts of the cluster. Each runs atomically in Redis; the fenced ones do nothing (and
answer nil) unless the caller still holds the lease, so a deposed leader can never write a frame."""

from __future__ import annotations

#: KEYS lease, fence; ARGV owner, ttl_ms → the new fencing token, or nil with the holder unchanged.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"""

#: KEYS lease; ARGV owner, ttl_ms → 1 when renewed, nil when the lease is someone else's (or gone).
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return false
"""

#: KEYS lease; ARGV owner → 1 when released.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return false
"""

#: KEYS lease, meta, frames, views; ARGV owner, new epoch, maxlen, asOf → {epoch, seq, created} or nil (not
#: leader). A new epoch (a new cluster, or Redis lost its data) starts with an empty snapshot entry, so every
#: reader switches to it at once; the leader then republishes what it holds.
BEGIN_TERM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local created = redis.call('HSETNX', KEYS[2], 'epoch', ARGV[2])
if created == 1 then
  redis.call('DEL', KEYS[4])
  local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'snapshot', 'epoch', ARGV[2],
                        'seq', '0', 'prev', '0', 'asOf', ARGV[4], 'views', '{}', 'removed', '[]')
  redis.call('HSET', KEYS[2], 'seq', '0', 'id', id)
end
return {redis.call('HGET', KEYS[2], 'epoch'), redis.call('HGET', KEYS[2], 'seq') or '0', created}
"""

#: KEYS lease, meta, frames, views.
#: ARGV owner, epoch, maxlen, kind (delta|status), seq, prev, asOf, views blob, removed JSON,
#: status JSON (a status) or the callback stream id whose effects this frame completes (a delta; '' = none),
#: n views, (queue id, view JSON) × n, n removed, queue id × n.
#: Recording the callback position with the frame makes it progress only with published output: a leader
#: that dies (or is deposed) before writing a frame leaves its callbacks to the next leader.
#: → the entry's stream id, or nil when the caller is no longer the leader of this epoch.
PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
if redis.call('HGET', KEYS[2], 'epoch') ~= ARGV[2] then return false end
if ARGV[4] == 'status' then
  redis.call('HSET', KEYS[2], 'status', ARGV[10])
  return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'status', 'epoch', ARGV[2],
                    'status', ARGV[10])
end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'cbid', ARGV[10]) end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[4], 'epoch', ARGV[2],
                      'seq', ARGV[5], 'prev', ARGV[6], 'asOf', ARGV[7], 'views', ARGV[8], 'removed', ARGV[9])
local i = 12
for _ = 1, tonumber(ARGV[11]) do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('HDEL', KEYS[4], ARGV[i])
  i = i + 1
end
redis.call('HSET', KEYS[2], 'seq', ARGV[5], 'id', id)
return id
"""

#: KEYS meta, views → {meta as a flat list, views as a flat list}: one consistent snapshot.
LOAD = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

#: KEYS callbacks; ARGV seen prefix, ttl_s, maxlen, body, event id × n → how many ids were new.
#: Every new id is remembered (SET NX EX) and the body is appended with the indexes of the new ones,
#: in one atomic step: an id is marked seen only if its body is durably in the stream.
INTAKE = """
local fresh = {}
for i = 5, #ARGV do
  if redis.call('SET', ARGV[1] .. ARGV[i], '1', 'NX', 'EX', ARGV[2]) then
    fresh[#fresh + 1] = tostring(i - 5)
  end
end
if #fresh > 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'body', ARGV[4], 'fresh', table.concat(fresh, ','))
end
return #fresh
"""
