"""What one server process holds for its requests, as one typed object (`app.state.services`):
the settings, the stores, the live graphs, the rooms, the event bus, the class's question and focus,
the heavy-call pool and the event-stream caps."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from stepgrad.app.classroom.quiz import Coalescer, FocusStore, QuizStore
from stepgrad.app.classroom.rooms import Rooms
from stepgrad.app.live.event_bus import EventBus
from stepgrad.app.live.manager import GraphManager
from stepgrad.app.protection.jobs import JobPool
from stepgrad.app.protection.rates import StreamLimiter
from stepgrad.app.settings import Settings
from stepgrad.app.storage.backends import make_bus, make_quiz_stores, make_store
from stepgrad.app.storage.base import GraphStore


@dataclass
class Services:
    settings: Settings
    store: GraphStore
    bus: EventBus
    graphs: GraphManager
    rooms: Rooms
    quizzes: QuizStore
    focuses: FocusStore
    quiz_events: Coalescer  # `event: quiz`, at most every quiz_event_interval_seconds
    focus_events: Coalescer
    jobs: JobPool
    streams: StreamLimiter
    static_url: str = "/static"  # the versioned prefix, set when the static tree is mounted

    @classmethod
    def start(cls, settings: Settings) -> Services:
        store = make_store(settings)
        bus = make_bus(settings)
        quizzes, focuses = make_quiz_stores(settings, store)
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            graphs=GraphManager(store, settings, bus),
            rooms=Rooms(store, settings.max_rooms, settings.idle_expiry_seconds),
            quizzes=quizzes,
            focuses=focuses,
            quiz_events=Coalescer(settings.quiz_event_interval_seconds),
            focus_events=Coalescer(settings.focus_event_interval_seconds),
            jobs=JobPool(settings),
            streams=StreamLimiter(settings),
        )

    def close(self) -> None:
        """The lifespan's end: stop the heavy calls still running, then the bus and store."""
        self.jobs.shutdown()
        self.bus.close()
        self.store.close()


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services
