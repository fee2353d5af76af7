"""Fixed-window rate counters in Redis: one INCR per key per request, the window set by the first hit."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from app import keys

# KEYS: the counters to bump; ARGV[1]: window in ms, ARGV[2]: a hash the first line touches without
# changing it. Returns {count, ttl_ms} per key. The expiry is set in the same script as the first INCR,
# so no counter can live forever. That first no-op write lets the script run when Redis is full
# (maxmemory, noeviction), as lib.lua's proceed_when_full: counters are a few bytes with a 60 s TTL,
# and an operator must still be able to log in to a full Redis to purge or cancel jobs.
HIT_LUA = """
redis.call('HDEL', ARGV[2], '')
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""

# Give back one hit (a login that succeeded); never creates a counter, so never one without a TTL.
# ARGV[1]: the no-op first write, as in HIT_LUA.
REFUND_LUA = """
redis.call('HDEL', ARGV[1], '')
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Window:
    """One counter after a hit: how many hits in the current window and when the window ends."""

    count: int
    reset_ms: int


class RateCounters:
    """Bumps fixed-window counters atomically (one script call for several keys)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._hit = redis.register_script(HIT_LUA)
        self._refund = redis.register_script(REFUND_LUA)

    def hit(self, counters: list[tuple[str, str]], window_ms: int) -> list[Window]:
        """Bump each (scope, id) counter once; their counts and window ends."""
        keys_ = [keys.rate(scope, ident) for scope, ident in counters]
        reply = self._hit(keys=keys_, args=[window_ms, keys.LIFETIME])
        return [Window(int(reply[i]), int(reply[i + 1])) for i in range(0, len(reply), 2)]

    def reset(self, scope: str, ident: str) -> None:
        self.redis.delete(keys.rate(scope, ident))

    def refund(self, scope: str, ident: str) -> None:
        self._refund(keys=[keys.rate(scope, ident)], args=[keys.LIFETIME])
