"""The one place that picks the backends from the settings: the graph store, the event bus,
and the quiz and focus stores (Redis for every one of them with `store = redis://...`, so
that every process sees the same graphs, events, question and focus; else the SQLite file,
which keeps the quiz too, and the focus in this process's memory)."""

from __future__ import annotations

from stepgrad.app.classroom.quiz import FocusStore, MemoryFocusStore, MemoryQuizStore, QuizStore
from stepgrad.app.live.event_bus import EventBus
from stepgrad.app.settings import Settings
from stepgrad.app.storage.base import GraphStore, StoreUnreachable
from stepgrad.app.storage.sqlite_store import SQLiteQuizStore, SQLiteStore


def _store_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import ConnectionError, TimeoutError
    except ImportError:  # no Redis client installed: no Redis store
        return (StoreUnreachable,)
    return (StoreUnreachable, ConnectionError, TimeoutError)


# what a shared store raises while it cannot be reached (answered 503 by http.errors)
STORE_ERRORS = _store_errors()


def make_store(settings: Settings) -> GraphStore:
    """Redis for `store = redis://...`, else the SQLite file."""
    if settings.store:
        from stepgrad.app.storage.redis_store import RedisStore

        return RedisStore(
            settings.store,
            idle_seconds=settings.idle_expiry_seconds,
            lock_expiry=settings.lock_expiry_seconds,
        )
    return SQLiteStore(settings.db)


def make_bus(settings: Settings) -> EventBus:
    """Fed through Redis pub/sub with a Redis store (every process's followers see every
    change), else in this process's memory."""
    if settings.store:
        from stepgrad.app.storage.redis_store import RedisEventBus

        return RedisEventBus(settings.store, settings.sse_queue_size)
    return EventBus(settings.sse_queue_size)


def make_quiz_stores(settings: Settings, store: GraphStore) -> tuple[QuizStore, FocusStore]:
    """The class's question and the teacher's focus: on Redis beside the graphs when the
    store is shared; else the question in the SQLite file beside the graphs (an answer
    acknowledged survives a crash) and the focus in memory."""
    if store.shared:
        from stepgrad.app.storage.quiz_redis import RedisFocusStore, RedisQuizStore
        from stepgrad.app.storage.redis_store import RedisStore

        assert isinstance(store, RedisStore)
        return RedisQuizStore(store), RedisFocusStore(store)
    if isinstance(store, SQLiteStore):
        return SQLiteQuizStore(store), MemoryFocusStore(settings.max_graphs)
    return MemoryQuizStore(settings.max_graphs), MemoryFocusStore(settings.max_graphs)


def check_store(settings: Settings) -> None:
    """At `stepgrad serve`'s start: with Redis, say on stderr what its configuration risks
    (redis_store.check_redis_config); nothing for the SQLite file."""
    if not settings.store:
        return
    import sys

    from stepgrad.app.storage.redis_store import check_redis_config

    for warning in check_redis_config(settings.store):
        print(f"stepgrad: warning: {warning}", file=sys.stderr, flush=True)
