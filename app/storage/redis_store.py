"""The graph store and the event bus on Redis, for several server processes and hosts.

Keys (all under `stepgrad:`):
- `g:<id>`: a hash with the record (name, spec, state, token hash, version, times). It
  expires by itself `idle_seconds` after its last use (PEXPIREAT, moved on by every save
  and touch), so no process has to sweep.
- `r:<id>`: a room (lesson, what the teacher shows, token hash, version, times), expiring
  like a graph; `rooms`: a sorted set id -> last use, for the cap on rooms kept.
- `accessed`: a sorted set id -> last use, for the cap on graphs kept (`create` counts
  the members still inside the idle window) and for the least recently used.
- `lock:<id>`: the graph's lock (redis-py's Lock: SET NX PX with a token). Its holder
  renews it every third of `lock_expiry` while a change runs, however long; if the holder
  dies the lock lapses after `lock_expiry`. Saves also compare the version (a Lua
  compare-and-set), so a holder whose lock lapsed (a stalled process) cannot overwrite a
  newer version: it gets StoreConflict.

- `p:<id>`: the changes of the graph's last 64 versions (a list, live.shared_patches),
  appended by the save script itself and expiring with the graph, so that `?since=V` is a
  patch on every process.

Every change of a record is one Lua script, so it is atomic against every other process.

Redis never holds up a process for long (see `client`): an ordinary call waits at most
`STORE_TIMEOUT` for an answer (then 503), and for `COOL_DOWN` after Redis failed to answer
every call fails at once rather than piling up threads on a stalled Redis. The stored
version a read checks is asked with `CHECK_TIMEOUT`: a graph held in memory is answered
from memory when Redis does not answer that fast (storage.base.StoreUnreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.exceptions import LockError
from redis.retry import Retry

from stepgrad.app import redact
from stepgrad.app.jsonio import dumps
from stepgrad.app.live import shared_patches
from stepgrad.app.live.event_bus import FORMATS, RESYNC, EventBus, Subscriber, _deliver
from stepgrad.app.redact import fingerprint
from stepgrad.app.storage.base import (
    DuplicateId,
    GraphRecord,
    LockTimeout,
    RoomRecord,
    StoreConflict,
    StoreUnreachable,
)

logger = logging.getLogger(__name__)

PREFIX = "stepgrad:"

STORE_TIMEOUT = 2.0  # seconds an ordinary call waits for Redis's answer (then 503)
CHECK_TIMEOUT = 0.5  # seconds a read waits for the stored version (then: memory's copy)
COOL_DOWN = 1.0  # seconds every call fails at once after Redis did not answer


class RedisUnreachable(redis.exceptions.ConnectionError, StoreUnreachable):
    """Redis did not answer, or did not answer in time (a 503 to retry)."""


class Breaker:
    """Whether Redis failed to answer within the last COOL_DOWN seconds (then calls fail at
    once): one per Redis URL and process, shared by the store, the bus and the rates."""

    def __init__(self) -> None:
        self.until = 0.0

    def check(self) -> None:
        if self.until and time.monotonic() < self.until:
            raise RedisUnreachable("Redis did not answer a moment ago; not asking again yet")

    def trip(self) -> None:
        self.until = time.monotonic() + COOL_DOWN

    def answered(self) -> None:
        if self.until:
            self.until = 0.0


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(url: str) -> Breaker:
    with _breakers_lock:
        return _breakers.setdefault(url, Breaker())


def _fail_fast(base: type, breaker: Breaker) -> type:
    """A connection class that fails at once while `breaker` is open, and opens it when
    Redis refuses a connection or does not answer in time."""

    class FailFast(base):
        def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            if self._sock is not None:
                return super().connect_check_health(*args, **kwargs)
            breaker.check()
            try:
                return super().connect_check_health(*args, **kwargs)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                breaker.trip()
                raise

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            try:
                breaker.check()
            except RedisUnreachable:
                self.disconnect()
                raise
            try:
                return super().send_packed_command(command, check_health)
            except redis.exceptions.TimeoutError:
                breaker.trip()
                raise

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                out = super().read_response(*args, **kwargs)
            except redis.exceptions.TimeoutError:
                breaker.trip()
                raise
            breaker.answered()
            return out

    FailFast.__name__ = "FailFast" + base.__name__
    return FailFast


def connection_pool(
    url: str,
    timeout: float = STORE_TIMEOUT,
    fail_fast: bool = True,
    decode_responses: bool = True,
    retries: int = 1,
) -> redis.ConnectionPool:
    """Connections to Redis that wait at most `timeout` for a connection and for an answer
    (unless the URL sets `socket_timeout` / `socket_connect_timeout` itself), retry a broken
    connection `retries` times (a pooled connection Redis closed when it restarted; never a
    timeout: a stalled Redis is not asked twice) and, with `fail_fast`, share the URL's
    Breaker."""
    query = parse_qs(urlsplit(url).query)
    kwargs: dict[str, Any] = {
        "decode_responses": decode_responses,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), retries, supported_errors=(redis.exceptions.ConnectionError,)),
    }
    for name in ("socket_timeout", "socket_connect_timeout"):
        if name not in query:
            kwargs[name] = timeout
    pool = redis.ConnectionPool.from_url(url, **kwargs)
    if fail_fast:
        pool.connection_class = _fail_fast(pool.connection_class, breaker_for(url))
    return pool


def client(url: str, **options: Any) -> redis.Redis:
    """A Redis client on `connection_pool(url, **options)`, closing it when closed."""
    out = redis.Redis(connection_pool=connection_pool(url, **options))
    out.auto_close_connection_pool = True
    return out


_CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local cap = tonumber(ARGV[2])
if cap >= 0 and redis.call('ZCARD', KEYS[2]) >= cap then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'name', ARGV[6], 'spec', ARGV[7], 'state', ARGV[8],
           'token_hash', ARGV[9], 'version', ARGV[10], 'created', ARGV[11], 'accessed', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
return 1
"""

# KEYS: graph hash, accessed set, changes list; ARGV: expected version, version, accessed,
# expiry (ms), id, state, the change ("<version>\n<patch>"), changes kept[, name, spec]
_SAVE = """
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return -1 end
if tonumber(v) ~= tonumber(ARGV[1]) then return tonumber(v) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'accessed', ARGV[3], 'state', ARGV[6])
if #ARGV >= 10 then redis.call('HSET', KEYS[1], 'name', ARGV[9], 'spec', ARGV[10]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('RPUSH', KEYS[3], ARGV[7])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[8]), -1)
redis.call('PEXPIREAT', KEYS[3], ARGV[4])
return 0
"""

# KEYS: the hash, its sorted set[, the graph's changes list]
_TOUCH = """
local a = redis.call('HGET', KEYS[1], 'accessed')
if not a or tonumber(a) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'accessed', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
if #KEYS >= 3 then redis.call('PEXPIREAT', KEYS[3], ARGV[2]) end
return 1
"""

_EXPIRE = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local keep = tonumber(ARGV[2])
if keep >= 0 then
  local excess = redis.call('ZCARD', KEYS[1]) - #gone - keep
  if excess > 0 then
    local more = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, excess)
    for _, id in ipairs(more) do table.insert(gone, id) end
  end
end
for _, id in ipairs(gone) do
  redis.call('DEL', ARGV[3] .. 'g:' .. id, ARGV[3] .. 'p:' .. id)
  redis.call('ZREM', KEYS[1], id)
end
return gone
"""

_CREATE_ROOM = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local cap = tonumber(ARGV[2])
if cap >= 0 and redis.call('ZCARD', KEYS[2]) >= cap then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'lesson', ARGV[6], 'shown', ARGV[7], 'token_hash', ARGV[8],
           'version', ARGV[9], 'created', ARGV[10], 'accessed', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
return 1
"""

_SAVE_ROOM = """
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return -1 end
if tonumber(v) ~= tonumber(ARGV[1]) then return tonumber(v) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'accessed', ARGV[3], 'shown', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
return 0
"""


class RedisStore:
    """GraphStore on Redis (see the module's docstring)."""

    shared = True

    def __init__(self, url: str, idle_seconds: float, lock_expiry: float = 10.0):
        self.url = url
        self.idle_seconds = idle_seconds
        self.lock_expiry = lock_expiry
        self.redis = client(url)
        # the version a read checks: a short wait, and never refused by the breaker (a read
        # after Redis came back must see what other processes changed meanwhile)
        self.check = client(url, timeout=CHECK_TIMEOUT, fail_fast=False)
        self._breaker = breaker_for(url)
        self._create = self.redis.register_script(_CREATE)
        self._save = self.redis.register_script(_SAVE)
        self._touch = self.redis.register_script(_TOUCH)
        self._expire = self.redis.register_script(_EXPIRE)
        self._zset = PREFIX + "accessed"
        self._create_room = self.redis.register_script(_CREATE_ROOM)
        self._save_room = self.redis.register_script(_SAVE_ROOM)
        self._rooms = PREFIX + "rooms"
        self._held: set = set()  # locks this process holds now, renewed by the watchdog
        self._held_lock = threading.Lock()
        self._watchdog: threading.Thread | None = None
        self._closed = threading.Event()

    @staticmethod
    def _key(graph_id: str) -> str:
        return f"{PREFIX}g:{graph_id}"

    @staticmethod
    def _patches_key(graph_id: str) -> str:
        return f"{PREFIX}p:{graph_id}"

    def _expire_at_ms(self, accessed: float) -> int:
        return int((accessed + self.idle_seconds) * 1000)

    def create(self, record: GraphRecord, cap: int | None = None) -> bool:
        done = self._create(
            keys=[self._key(record.id), self._zset],
            args=[
                repr(time.time() - self.idle_seconds), -1 if cap is None else cap,
                self._expire_at_ms(record.accessed), record.id, repr(record.accessed),
                dumps(record.name), dumps(record.spec), dumps(record.state), record.token_hash,
                record.version, repr(record.created),
            ],
        )  # fmt: skip
        if done == -1:
            raise DuplicateId(record.id)
        return done == 1

    def get(self, graph_id: str) -> GraphRecord | None:
        row = self.redis.hgetall(self._key(graph_id))
        if not row:
            return None
        return GraphRecord(
            id=graph_id,
            name=json.loads(row["name"]),
            spec=json.loads(row["spec"]),
            state=json.loads(row["state"]),
            token_hash=cast(str, row["token_hash"]),  # decode_responses: replies are str
            version=int(row["version"]),
            created=float(row["created"]),
            accessed=float(row["accessed"]),
        )

    def version(self, graph_id: str) -> int | None:
        """The stored version, asked with CHECK_TIMEOUT: RedisUnreachable when Redis does
        not answer that fast."""
        try:
            v = self.check.hget(self._key(graph_id), "version")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise RedisUnreachable(str(exc)) from exc
        return None if v is None else int(cast(str, v))

    def save(self, record: GraphRecord, expected_version: int, spec_changed: bool = True) -> None:
        self.save_with_patch(record, expected_version, spec_changed, None)

    def save_with_patch(
        self, record: GraphRecord, expected_version: int, spec_changed: bool, patch: str | None
    ) -> None:
        args: list[str | int | float] = [
            expected_version, record.version, repr(record.accessed),
            self._expire_at_ms(record.accessed), record.id, dumps(record.state),
            f"{record.version}\n{'' if patch is None else patch}", shared_patches.KEPT,
        ]  # fmt: skip
        if spec_changed:
            args += [dumps(record.name), dumps(record.spec)]
        keys = [self._key(record.id), self._zset, self._patches_key(record.id)]
        done = self._save(keys=keys, args=args)
        if done == 0:
            return
        if done == -1:
            raise KeyError(record.id)
        raise StoreConflict(f"Graph {record.id!r} is at version {done}, not {expected_version}.")

    def patches(self, graph_id: str) -> list[tuple[int, str | None]]:
        try:
            rows = cast(list[str], self.check.lrange(self._patches_key(graph_id), 0, -1))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise RedisUnreachable(str(exc)) from exc
        out: list[tuple[int, str | None]] = []
        for row in rows:
            version, _, patch = row.partition("\n")
            out.append((int(version), patch or None))
        return out

    def touch(self, graph_id: str, when: float) -> None:
        """Best effort: a read must not fail because its use could not be recorded (the
        next read or the sweep records it)."""
        if self._breaker.until > time.monotonic():
            return  # Redis failed to answer a moment ago
        try:
            self._touch(
                keys=[self._key(graph_id), self._zset, self._patches_key(graph_id)],
                args=[repr(when), self._expire_at_ms(when), graph_id],
                client=self.check,  # a short wait: a read is waiting
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            logger.info("could not record a read of a graph: Redis did not answer")

    def delete(self, graph_id: str) -> bool:
        pipe = self.redis.pipeline()
        pipe.delete(self._key(graph_id))
        pipe.delete(self._patches_key(graph_id))
        pipe.zrem(self._zset, graph_id)
        return pipe.execute()[0] > 0

    def _live_from(self) -> str:
        return repr(time.time() - self.idle_seconds)

    def ids(self) -> list[str]:
        return cast(list[str], self.redis.zrangebyscore(self._zset, self._live_from(), "+inf"))

    def count(self) -> int:
        return int(self.redis.zcount(self._zset, self._live_from(), "+inf"))

    def expire(self, idle_before: float, keep: int | None = None) -> list[str]:
        """Best effort: Redis expires the keys by itself; this forgets them in the sorted set
        (and frees their memory in the process). While Redis is away: nothing (so that a
        process starts, and sweeps, while Redis is down)."""
        try:
            return cast(
                list[str],
                self._expire(
                    keys=[self._zset],
                    args=[repr(idle_before), -1 if keep is None else keep, PREFIX],
                ),
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            logger.warning("expired graphs could not be swept: Redis did not answer")
            return []

    def oldest_access(self) -> float | None:
        first = self.redis.zrangebyscore(
            self._zset, self._live_from(), "+inf", start=0, num=1, withscores=True
        )
        return cast(float, first[0][1]) if first else None  # withscores: floats

    # ---- rooms ---------------------------------------------------------------------------

    @staticmethod
    def _room_key(room_id: str) -> str:
        return f"{PREFIX}r:{room_id}"

    def create_room(self, record: RoomRecord, cap: int | None = None) -> bool:
        done = self._create_room(
            keys=[self._room_key(record.id), self._rooms],
            args=[
                repr(time.time() - self.idle_seconds), -1 if cap is None else cap,
                self._expire_at_ms(record.accessed), record.id, repr(record.accessed),
                record.lesson, dumps(record.shown), record.token_hash, record.version,
                repr(record.created),
            ],
        )  # fmt: skip
        if done == -1:
            raise DuplicateId(record.id)
        return done == 1

    def get_room(self, room_id: str) -> RoomRecord | None:
        row = self.redis.hgetall(self._room_key(room_id))
        if not row:
            return None
        return RoomRecord(
            id=room_id,
            lesson=cast(str, row["lesson"]),
            shown=json.loads(row["shown"]),
            token_hash=cast(str, row["token_hash"]),
            version=int(row["version"]),
            created=float(row["created"]),
            accessed=float(row["accessed"]),
        )

    def save_room(self, record: RoomRecord, expected_version: int) -> None:
        done = self._save_room(
            keys=[self._room_key(record.id), self._rooms],
            args=[
                expected_version, record.version, repr(record.accessed),
                self._expire_at_ms(record.accessed), record.id, dumps(record.shown),
            ],
        )  # fmt: skip
        if done == 0:
            return
        if done == -1:
            raise KeyError(record.id)
        raise StoreConflict(f"Room {record.id!r} is at version {done}, not {expected_version}.")

    def touch_room(self, room_id: str, when: float) -> None:
        """Best effort, as `touch`: the graphs' touch script (a hash with `accessed`, its
        expiry and a sorted set)."""
        try:
            self._touch(
                keys=[self._room_key(room_id), self._rooms],
                args=[repr(when), self._expire_at_ms(when), room_id],
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            logger.info("could not record a use of a room: Redis did not answer")

    def expire_rooms(self, idle_before: float) -> list[str]:
        """Best effort, as `expire`: the keys expire by themselves; this forgets them in
        the sorted set."""
        try:
            gone = cast(
                list[str], self.redis.zrangebyscore(self._rooms, "-inf", f"({idle_before!r}")
            )
            if gone:
                pipe = self.redis.pipeline()
                pipe.delete(*[self._room_key(r) for r in gone])
                pipe.zrem(self._rooms, *gone)
                pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            logger.warning("expired rooms could not be swept: Redis did not answer")
            return []
        return gone

    # ---- locks --------------------------------------------------------------------------

    @contextmanager
    def lock(self, graph_id: str, wait: float) -> Iterator[None]:
        lock = self.redis.lock(
            f"{PREFIX}lock:{graph_id}",
            timeout=self.lock_expiry,
            sleep=0.005,
            blocking_timeout=wait,
            thread_local=False,
        )
        if not lock.acquire():
            raise LockTimeout(graph_id)
        with self._held_lock:
            self._held.add(lock)
            self._start_watchdog()
        try:
            yield
        finally:
            with self._held_lock:
                self._held.discard(lock)
            try:
                lock.release()
            except LockError:  # it lapsed (this process stalled): the version check guards
                logger.warning(
                    "the lock of graph %s had lapsed before its release", fingerprint(graph_id)
                )

    def _start_watchdog(self) -> None:
        """Under self._held_lock."""
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog = threading.Thread(
                target=self._renew, name="stepgrad-lock-renewal", daemon=True
            )
            self._watchdog.start()

    def _renew(self) -> None:
        """Push back the expiry of every lock held, every third of `lock_expiry`."""
        while not self._closed.wait(self.lock_expiry / 3):
            with self._held_lock:
                held = list(self._held)
            for lock in held:
                try:
                    lock.reacquire()
                except LockError:
                    logger.warning("lost the lock %s while holding it", redact.key(lock.name))
                except redis.RedisError:
                    logger.exception("renewing the lock %s failed", redact.key(lock.name))

    def close(self) -> None:
        self._closed.set()
        self.redis.close()
        self.check.close()


READY_WAIT = 2.0  # seconds a graph's first follower on a process waits for its channel


def _settle(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class RedisEventBus(EventBus):
    """The event bus of one process, fed through Redis pub/sub so that followers on every
    process receive every event.

    Each graph has a channel per format (`stepgrad:ev:<id>:state`, `...:patch`); a process
    subscribes to a channel while one of its followers reads that format. `publish` sends
    to Redis only; a listener thread per process hands what arrives to its own followers
    (local followers too, so each sees one order: the order of the versions, since changes
    publish under the graph's lock). An event for every format (progress, deleted, or a
    feature's own) goes to both channels; each follower reads one.

    Nothing here waits for Redis on the event loop. `subscribe` and `unsubscribe` count
    followers in memory; the listener thread alone talks to Redis on its connection: it
    subscribes to the channels counted, unsubscribes from those no longer followed, and
    reconnects (and subscribes again) whenever its connection is lost. `ready` awaits
    Redis's confirmation for at most READY_WAIT; a follower that went on without it (Redis
    was down or stalled), and every follower when the connection was lost, is marked
    stale, and once its channel is confirmed again gets RESYNC: its stream sends the state
    if it moved on meanwhile. So a follower connecting during an outage gets every change
    once Redis is back, and the count of followers never depends on Redis having answered.

    Who follows in which format is asked of Redis (PUBSUB NUMSUB): a change renders the
    state or the patch only when some process has a follower for it.
    """

    def __init__(self, url: str, queue_size: int = 64):
        super().__init__(queue_size)
        self.redis = client(url)
        # the listener's connection: no breaker (it retries by itself) and no retry (a lost
        # connection must be noticed: its followers may have missed events)
        self._listen_client = client(url, timeout=5.0, fail_fast=False, retries=0)
        self._pubsub: PubSub | None = None
        self._listener: threading.Thread | None = None
        self._chan_lock = threading.Lock()
        self._channels: dict[str, int] = {}  # channel -> this process's followers on it
        self._sent: set[str] = set()  # subscribed (asked) on the listener's connection
        self._pending: dict[str, int] = {}  # channel -> (un)subscriptions not yet confirmed
        self._confirmed: set[str] = set()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}
        self._down = False  # the listener's last connection attempt failed
        # a follower's wait for a confirmation timed out since Redis last confirmed anything
        # (it is stalled): the next ones do not wait
        self._unanswered = False
        self._dirty = False  # channels were added or dropped since the listener looked
        self._closed = threading.Event()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender: threading.Thread | None = None

    @staticmethod
    def channel(graph_id: str, format: str) -> str:
        return f"{PREFIX}ev:{graph_id}:{format}"

    @staticmethod
    def _parse(channel: str) -> tuple[str, str]:
        rest, _, fmt = channel.rpartition(":")
        return rest[len(PREFIX) + 3 :], fmt

    # ---- followers (on the event loop; never waiting for Redis) -----------------------

    def subscribe(self, graph_id: str, format: str = "state") -> Subscriber:
        sub = super().subscribe(graph_id, format)
        name = self.channel(graph_id, format)
        with self._chan_lock:
            count = self._channels[name] = self._channels.get(name, 0) + 1
            self._dirty = self._dirty or count == 1
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, args=(weakref.ref(self),), name="stepgrad-events",
                    daemon=True,
                )  # fmt: skip
                self._listener.start()
        return sub

    async def ready(self, sub: Subscriber) -> None:
        """Return once Redis confirmed the subscriber's channel (the follower reads the
        state next: a change published before the confirmation would be lost to it), or
        after READY_WAIT, or at once while Redis is down or left the last wait unanswered:
        then the subscriber is stale and gets RESYNC when the channel is confirmed. A round
        trip, for a graph's first follower on a process."""
        name = self.channel(sub.graph_id, sub.format)
        loop = asyncio.get_running_loop()
        with self._chan_lock:
            if name in self._confirmed:
                return
            fut = loop.create_future()
            wait = not (self._down or self._unanswered)
            if wait:
                self._waiters.setdefault(name, []).append((loop, fut))
        if wait:
            try:
                await asyncio.wait_for(fut, READY_WAIT)
            except TimeoutError:
                self._unanswered = True
        with self._chan_lock:
            if name in self._confirmed:
                return
            sub.extra["stale"] = True
            waiting = self._waiters.get(name, [])
            if (loop, fut) in waiting:
                waiting.remove((loop, fut))
        logger.info(
            "a follower goes on before Redis confirmed its subscription; it gets the state "
            "again once Redis does"
        )

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub.closed:
            return
        super().unsubscribe(sub)
        name = self.channel(sub.graph_id, sub.format)
        with self._chan_lock:
            count = self._channels.get(name, 0) - 1
            if count > 0:
                self._channels[name] = count
            else:
                self._channels.pop(name, None)  # the listener unsubscribes
                self._dirty = True

    # ---- asked by changes (in worker threads) ------------------------------------------

    def formats(self, graph_id: str) -> set[str]:
        """The formats read by the graph's followers on any process."""
        counts = cast(
            list[tuple[str, int]],  # decode_responses: names are str
            self.redis.pubsub_numsub(
                self.channel(graph_id, "state"), self.channel(graph_id, "patch")
            ),
        )
        return {name.rsplit(":", 1)[1] for name, n in counts if n}

    def has_subscribers(self, graph_id: str) -> bool:
        return bool(self.formats(graph_id))

    def publish(
        self,
        graph_id: str,
        event: str,
        data,
        format: str | None = None,
        version: int | None = None,
        base_version: int | None = None,
    ) -> None:
        """Send to Redis; called on the event loop (a quiz or focus event), the sending is
        handed to a thread of its own, in order."""
        if not isinstance(data, str):  # an Item
            event, version, base_version, data = (
                data.event, data.version, data.base_version, data.data
            )  # fmt: skip
        message = f"{event}\n{'' if version is None else version}\n"
        message += f"{'' if base_version is None else base_version}\n{data}"
        channels = [self.channel(graph_id, fmt) for fmt in ((format,) if format else FORMATS)]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._send(channels, message)  # a worker thread: in order, under the graph's lock
            return
        self._outbox.put((channels, message))
        with self._chan_lock:
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(
                    target=self._send_outbox, args=(weakref.ref(self), self._outbox),
                    name="stepgrad-publish", daemon=True,
                )  # fmt: skip
                self._sender.start()

    def _send(self, channels: list[str], message: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for name in channels:
            pipe.publish(name, message)
        pipe.execute()

    @staticmethod
    def _send_outbox(ref: weakref.ref, outbox: queue.SimpleQueue) -> None:
        while True:
            try:
                channels, message = outbox.get(timeout=1.0)
            except queue.Empty:
                channels = None
            bus = ref()
            if bus is None or bus._closed.is_set():
                return
            if channels is not None:
                try:
                    bus._send(channels, message)
                except redis.RedisError:
                    logger.warning("a live event could not be sent: Redis did not answer")
            del bus

    # ---- the listener thread ------------------------------------------------------------

    @staticmethod
    def _listen(ref: weakref.ref) -> None:
        backoff = 0.05
        while True:
            bus = ref()
            if bus is None or bus._closed.is_set():
                return
            try:
                for _ in range(100):  # then let go of the bus a moment (it may be dropped)
                    if bus._closed.is_set():
                        return
                    bus._round()
                backoff = 0.05
                del bus
                continue
            except Exception as exc:  # the connection failed (or a bug: logged, then retried)
                if bus._closed.is_set():
                    return
                if not isinstance(exc, (redis.RedisError, OSError)):
                    logger.exception("reading live events from Redis failed")
                bus._lost(exc)
            closed = bus._closed
            del bus
            if closed.wait(backoff):
                return
            backoff = min(backoff * 2, 1.0)

    def _round(self) -> None:
        """Connect if need be, send the (un)subscriptions asked for, and hand over what
        arrives within 50 ms."""
        pubsub = self._pubsub
        if pubsub is None:
            pubsub = self._listen_client.pubsub()
            # one channel always, so the connection always has a subscription to read
            pubsub.subscribe(PREFIX + "ev")
            with self._chan_lock:
                self._pubsub = pubsub
                self._down = False
                self._dirty = True
        add: set[str] = set()
        drop: set[str] = set()
        if self._dirty:
            with self._chan_lock:
                self._dirty = False
                wanted = set(self._channels)
                add, drop = wanted - self._sent, self._sent - wanted
                for name in add | drop:
                    self._pending[name] = self._pending.get(name, 0) + 1
                self._sent = wanted
                self._confirmed -= drop
        if add:
            pubsub.subscribe(*add)
        if drop:
            pubsub.unsubscribe(*drop)
        conn = pubsub.connection
        if conn is None or not conn.can_read(timeout=0.05):
            return
        while True:
            msg = pubsub.get_message(timeout=5.0)
            if msg is not None:
                self._handle(msg)
            if not conn.can_read(timeout=0):
                return

    def _handle(self, msg: dict) -> None:
        kind, channel = msg["type"], msg["channel"]
        if channel == PREFIX + "ev":
            return
        if kind in ("subscribe", "unsubscribe"):
            self._confirm(channel)
        elif kind == "message":
            try:
                self._deliver(channel, msg["data"])
            except Exception:
                logger.exception("a live event from %s could not be delivered", redact.key(channel))

    def _confirm(self, channel: str) -> None:
        graph_id, fmt = self._parse(channel)
        with self._chan_lock:
            left = self._pending.get(channel, 0) - 1
            if left > 0:
                self._pending[channel] = left
                return
            self._pending.pop(channel, None)
            self._unanswered = False
            if channel not in self._sent:
                return
            self._confirmed.add(channel)
            waiters = self._waiters.pop(channel, [])
            with self._lock:
                stale = [
                    s
                    for s in self._subscribers.get(graph_id, ())
                    if s.format == fmt and s.extra.pop("stale", False)
                ]
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, fut)
        self._resync(stale)

    def _resync(self, subs: list[Subscriber]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
        for sub in subs:
            by_loop.setdefault(sub.loop, []).append(sub)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the subscribers' loop has closed
                loop.call_soon_threadsafe(_deliver, group, RESYNC)

    def _lost(self, exc: BaseException) -> None:
        """The listener's connection failed: every follower may miss events until its
        channel is confirmed on a new connection."""
        with self._chan_lock:
            pubsub, self._pubsub = self._pubsub, None
            was_down, self._down = self._down, True
            self._sent.clear()
            self._pending.clear()
            self._confirmed.clear()
            waiters = [w for ws in self._waiters.values() for w in ws]
            self._waiters.clear()
            with self._lock:
                for subs in self._subscribers.values():
                    for sub in subs:
                        sub.extra["stale"] = True
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, fut)
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        if not was_down:
            logger.warning("live events from Redis stopped (%s); reconnecting", exc)

    def _deliver(self, channel: str, message: str) -> None:
        graph_id, fmt = self._parse(channel)
        event, version, base, data = message.split("\n", 3)
        super().publish(
            graph_id,
            event,
            data,
            format=fmt,
            version=int(version) if version else None,
            base_version=int(base) if base else None,
        )

    def close(self) -> None:
        self._closed.set()
        listener = self._listener
        if listener is not None and listener is not threading.current_thread():
            listener.join(timeout=2.0)
        with self._chan_lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        self.redis.close()
        self._listen_client.close()


def _where(url: str) -> str:
    """The URL without its password (it is printed)."""
    parts = urlsplit(url)
    if not parts.hostname:  # unix:///path/to/socket
        return f"{parts.scheme}://{parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def check_redis_config(url: str) -> list[str]:
    """What Redis's configuration risks for the graphs, one sentence each (empty: nothing):
    no persistence (a restart of Redis loses every graph), an eviction policy (Redis may
    drop graphs and locks when its memory is full), or that it could not be checked.
    `stepgrad serve` prints them at start; the server starts anyway (docs/DEPLOY.md)."""
    where = _where(url)
    conn = client(url, timeout=3.0, fail_fast=False)
    try:
        try:
            config: dict[str, str] = {}
            for name in ("appendonly", "save", "maxmemory-policy", "maxmemory"):
                config.update(cast(dict[str, str], conn.config_get(name)))
        except redis.exceptions.ResponseError as exc:  # CONFIG disabled (managed Redis) or ACL
            return [
                f"could not check the persistence and eviction settings of Redis at {where} "
                f"(CONFIG GET was refused: {str(exc)[:120]}). Make sure it keeps its data "
                "(appendonly yes) and never evicts keys (maxmemory-policy noeviction): "
                "otherwise a restart of Redis, or a full Redis, loses graphs."
            ]
        except redis.exceptions.RedisError as exc:
            return [
                f"Redis at {where} cannot be reached now ({str(exc)[:120]}); the server "
                "answers 503 (Retry-After) to what needs it until it can."
            ]
    finally:
        conn.close()
    out = []
    aof = config.get("appendonly", "").lower() == "yes"
    save = config.get("save", "").strip()
    if not aof and not save:
        out.append(
            f"Redis at {where} keeps its data in memory only (appendonly no, no save "
            "points): a restart of Redis loses every graph, room and question, and teachers "
            'and students are then told their graph "may have expired". Set appendonly yes '
            "in redis.conf (CONFIG SET appendonly yes, then CONFIG REWRITE)."
        )
    elif not aof:
        out.append(
            f"Redis at {where} only saves snapshots (save {save}; appendonly no): a restart "
            "of Redis loses the changes made since the last snapshot, and clients of graphs "
            'created meanwhile are told they "may have expired". Set appendonly yes to keep '
            "every acknowledged change."
        )
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        limit = config.get("maxmemory", "0")
        now = "no limit is set now" if limit == "0" else f"maxmemory is {limit} bytes"
        out.append(
            f"Redis at {where} evicts keys when its memory is full (maxmemory-policy "
            f"{policy}; {now}): it may then drop graphs, rooms, answers or a graph's lock "
            "while in use, losing work silently. Set maxmemory-policy noeviction: a full "
            "Redis then refuses changes (503) and loses nothing."
        )
    return out
