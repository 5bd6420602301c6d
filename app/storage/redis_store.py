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

Every change of a record is one Lua script, so it is atomic against every other process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis
from redis.client import PubSub
from redis.exceptions import LockError

from stepgrad.app.jsonio import dumps
from stepgrad.app.live.event_bus import EventBus, Subscriber
from stepgrad.app.storage.base import (
    DuplicateId,
    GraphRecord,
    LockTimeout,
    RoomRecord,
    StoreConflict,
)

logger = logging.getLogger(__name__)

PREFIX = "stepgrad:"

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

_SAVE = """
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return -1 end
if tonumber(v) ~= tonumber(ARGV[1]) then return tonumber(v) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'accessed', ARGV[3], 'state', ARGV[6])
if #ARGV >= 8 then redis.call('HSET', KEYS[1], 'name', ARGV[7], 'spec', ARGV[8]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
return 0
"""

_TOUCH = """
local a = redis.call('HGET', KEYS[1], 'accessed')
if not a or tonumber(a) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'accessed', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
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
  redis.call('DEL', ARGV[3] .. 'g:' .. id)
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
        self.redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
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
        v = self.redis.hget(self._key(graph_id), "version")
        return None if v is None else int(v)

    def save(self, record: GraphRecord, expected_version: int, spec_changed: bool = True) -> None:
        args: list[str | int | float] = [
            expected_version, record.version, repr(record.accessed),
            self._expire_at_ms(record.accessed), record.id, dumps(record.state),
        ]  # fmt: skip
        if spec_changed:
            args += [dumps(record.name), dumps(record.spec)]
        done = self._save(keys=[self._key(record.id), self._zset], args=args)
        if done == 0:
            return
        if done == -1:
            raise KeyError(record.id)
        raise StoreConflict(f"Graph {record.id!r} is at version {done}, not {expected_version}.")

    def touch(self, graph_id: str, when: float) -> None:
        self._touch(
            keys=[self._key(graph_id), self._zset],
            args=[repr(when), self._expire_at_ms(when), graph_id],
        )

    def delete(self, graph_id: str) -> bool:
        pipe = self.redis.pipeline()
        pipe.delete(self._key(graph_id))
        pipe.zrem(self._zset, graph_id)
        return pipe.execute()[0] > 0

    def _live_from(self) -> str:
        return repr(time.time() - self.idle_seconds)

    def ids(self) -> list[str]:
        return cast(list[str], self.redis.zrangebyscore(self._zset, self._live_from(), "+inf"))

    def count(self) -> int:
        return int(self.redis.zcount(self._zset, self._live_from(), "+inf"))

    def expire(self, idle_before: float, keep: int | None = None) -> list[str]:
        return self._expire(
            keys=[self._zset], args=[repr(idle_before), -1 if keep is None else keep, PREFIX]
        )

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
        # the graphs' touch script: a hash with `accessed`, its expiry and a sorted set
        self._touch(
            keys=[self._room_key(room_id), self._rooms],
            args=[repr(when), self._expire_at_ms(when), room_id],
        )

    def expire_rooms(self, idle_before: float) -> list[str]:
        # the keys expire by themselves; this forgets them in the sorted set
        gone = cast(list[str], self.redis.zrangebyscore(self._rooms, "-inf", f"({idle_before!r}"))
        if gone:
            pipe = self.redis.pipeline()
            pipe.delete(*[self._room_key(r) for r in gone])
            pipe.zrem(self._rooms, *gone)
            pipe.execute()
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
                logger.warning("the lock of graph %s had lapsed before its release", graph_id)

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
                    logger.warning("lost the lock %s while holding it", lock.name)
                except redis.RedisError:
                    logger.exception("renewing the lock %s failed", lock.name)

    def close(self) -> None:
        self._closed.set()
        self.redis.close()


class RedisEventBus(EventBus):
    """The event bus of one process, fed through Redis pub/sub so that followers on every
    process receive every event.

    Each graph has a channel per format (`stepgrad:ev:<id>:state`, `...:patch`); a process
    subscribes to a channel while one of its followers reads that format. `publish` sends
    to Redis only; a listener thread per process hands what arrives to its own followers
    (local followers too, so each sees one order: the order of the versions, since changes
    publish under the graph's lock). An event for every format (progress, deleted, or a
    feature's own) goes to both channels; each follower reads one.

    Who follows in which format is asked of Redis (PUBSUB NUMSUB): a change renders the
    state or the patch only when some process has a follower for it.
    """

    def __init__(self, url: str, queue_size: int = 64):
        super().__init__(queue_size)
        self.redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        self._pubsub: PubSub | None = None
        self._listener: threading.Thread | None = None
        self._channels: dict[str, int] = {}  # channel -> this process's followers on it
        self._ready: dict[str, threading.Event] = {}
        self._chan_lock = threading.Lock()
        self._closed = threading.Event()

    @staticmethod
    def channel(graph_id: str, format: str) -> str:
        return f"{PREFIX}ev:{graph_id}:{format}"

    def _start(self) -> PubSub:
        """Under self._chan_lock; returns the pubsub connection."""
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub()
            # one channel always, so the listener always has a subscription to read
            self._pubsub.subscribe(PREFIX + "ev")
        if self._listener is None or not self._listener.is_alive():
            self._listener = threading.Thread(
                target=self._listen, args=(weakref.ref(self),), name="stepgrad-events",
                daemon=True,
            )  # fmt: skip
            self._listener.start()
        return self._pubsub

    def subscribe(self, graph_id: str, format: str = "state") -> Subscriber:
        sub = super().subscribe(graph_id, format)
        name = self.channel(graph_id, format)
        with self._chan_lock:
            pubsub = self._start()
            count = self._channels.get(name, 0)
            self._channels[name] = count + 1
            ready = self._ready.get(name)
            if count == 0:
                ready = self._ready[name] = threading.Event()
                pubsub.subscribe(name)
        sub.extra["ready"] = ready
        return sub

    async def ready(self, sub: Subscriber) -> None:
        """Wait (without blocking the event loop) until Redis confirmed the subscription:
        the follower reads the state next, and a change published before the confirmation
        would be lost to it. A round trip, for a graph's first follower on a process."""
        ready: threading.Event | None = sub.extra.get("ready")
        if (
            ready is not None
            and not ready.is_set()
            and not await asyncio.to_thread(ready.wait, 5.0)
        ):
            logger.warning("subscribing to %s took over 5 s", sub.graph_id)

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub.closed:
            return
        super().unsubscribe(sub)
        name = self.channel(sub.graph_id, sub.format)
        with self._chan_lock:
            count = self._channels.get(name, 0) - 1
            if count > 0:
                self._channels[name] = count
                return
            self._channels.pop(name, None)
            self._ready.pop(name, None)
            if self._pubsub is not None:
                try:
                    self._pubsub.unsubscribe(name)
                except redis.RedisError:
                    logger.exception("unsubscribing from %s failed", name)

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
        if not isinstance(data, str):  # an Item
            event, version, base_version, data = (
                data.event, data.version, data.base_version, data.data
            )  # fmt: skip
        message = f"{event}\n{'' if version is None else version}\n"
        message += f"{'' if base_version is None else base_version}\n{data}"
        pipe = self.redis.pipeline(transaction=False)
        for fmt in (format,) if format else ("state", "patch"):
            pipe.publish(self.channel(graph_id, fmt), message)
        pipe.execute()

    def _deliver(self, channel: str, message: str) -> None:
        rest, _, fmt = channel.rpartition(":")
        graph_id = rest[len(PREFIX) + 3 :]
        event, version, base, data = message.split("\n", 3)
        super().publish(
            graph_id,
            event,
            data,
            format=fmt,
            version=int(version) if version else None,
            base_version=int(base) if base else None,
        )

    @staticmethod
    def _listen(ref: weakref.ref) -> None:
        while True:
            bus = ref()
            if bus is None or bus._closed.is_set():
                return
            pubsub = bus._pubsub
            try:
                msg = pubsub.get_message(timeout=1.0)
            except (redis.RedisError, OSError, ValueError):
                if bus._closed.is_set():
                    return
                logger.exception("reading live events from Redis failed; retrying")
                del bus
                time.sleep(0.5)
                continue
            if msg is None:
                continue
            kind, channel = msg["type"], msg["channel"]
            if kind == "subscribe":
                with bus._chan_lock:
                    ready = bus._ready.get(channel)
                if ready is not None:
                    ready.set()
            elif kind == "message" and channel != PREFIX + "ev":
                try:
                    bus._deliver(channel, msg["data"])
                except Exception:
                    logger.exception("a live event from %s could not be delivered", channel)
            del bus

    def close(self) -> None:
        self._closed.set()
        with self._chan_lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            pubsub.close()
        self.redis.close()
