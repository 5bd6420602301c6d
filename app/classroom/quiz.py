"""A class's live question on a graph (predict, then reveal), and what the teacher focuses on.

Both are small per-graph states kept beside the graph, not in it: they never change the
graph's version. Each sits behind a small interface keyed by graph id (`QuizStore`,
`FocusStore`) that every store implements: the question and its answers are kept where the
graphs are (`storage.sqlite_store.SQLiteQuizStore` in the SQLite file, committed before an
answer is acknowledged; `storage.quiz_redis` on Redis), the focus in this process
(`MemoryFocusStore`) or on Redis. `MemoryQuizStore` keeps questions in this process only.

The maths of a reveal lives here too, as plain functions: the histogram of the answers
around the truth, and the share within 1 % of it.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# an answer to a question put away: replaced by a newer one, its step left, its graph reset
CLOSED = (
    "That question is closed: the teacher moved on (a newer question, another step or a reset)."
)
TOLERANCE = 0.01  # an answer counts as right within 1 % of the truth
MAX_BINS = 24


class QuizNotFound(Exception):
    """No question on the graph, or not the one the answer names."""


class QuizClosed(Exception):
    """The question no longer takes answers (revealed, or replaced by a newer one)."""


class QuizFull(Exception):
    """The question has as many answers as it may keep."""


@dataclass
class Answer:
    value: float
    name: str | None
    at: float


@dataclass
class Quiz:
    id: str
    graph_id: str
    node: str
    quantity: str  # "value" | "grad"
    opened: float
    status: str = "open"  # open | revealed | closed
    truth: float | None = None
    answers: dict[str, Answer] = field(default_factory=dict)  # client id -> answer
    # the number of answers when a store left `answers` unread (an open question: nobody
    # sees them before the reveal); None when `answers` holds them all
    counted: int | None = None

    @property
    def count(self) -> int:
        return len(self.answers) if self.counted is None else self.counted


def new_quiz(graph_id: str, node: str, quantity: str) -> Quiz:
    return Quiz(secrets.token_urlsafe(9), graph_id, node, quantity, time.time())


class QuizStore(Protocol):
    """One question per graph at most. Every call is atomic for its graph."""

    def open(self, quiz: Quiz) -> Quiz | None:
        """Make `quiz` the graph's question; the one it replaces (closed) or None."""

    def answer(
        self,
        graph_id: str,
        quiz_id: str,
        client: str,
        value: float,
        name: str | None,
        max_answers: int,
    ) -> int:
        """Record (or replace) the client's answer; the number of answers. QuizNotFound,
        QuizClosed, QuizFull."""

    def count(self, graph_id: str) -> int:
        """The number of answers to the graph's question (0 when none)."""

    def reveal(self, graph_id: str, truth: float) -> Quiz:
        """Close answering and keep the truth; the quiz with its answers. QuizNotFound."""

    def get(self, graph_id: str) -> Quiz | None:
        """The graph's question with its answers, or None. While it is open, a store may
        give their number only (`Quiz.counted`): no one sees them before the reveal."""

    def close(self, graph_id: str) -> Quiz | None:
        """Put the graph's question away (dismissed): later answers to it get QuizClosed."""

    def drop(self, graph_id: str) -> None:
        """Forget everything of the graph (it was deleted)."""


class MemoryQuizStore:
    """Questions in this process's memory, for at most `max_graphs` graphs (the oldest
    question goes first): bounded however many graphs a server sees."""

    def __init__(self, max_graphs: int = 1_000):
        self.max_graphs = max_graphs
        self._quizzes: OrderedDict[str, Quiz] = OrderedDict()
        # the ids of a graph's last few replaced questions: a late answer to one is told
        # that it closed (409) rather than that it never existed (404)
        self._replaced: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def open(self, quiz: Quiz) -> Quiz | None:
        with self._lock:
            old = self._quizzes.pop(quiz.graph_id, None)
            if old is not None:
                old.status = "closed"
                self._replaced[quiz.graph_id] = [old.id, *self._replaced.get(quiz.graph_id, [])][:8]
            self._quizzes[quiz.graph_id] = quiz
            while len(self._quizzes) > self.max_graphs:
                gone, _ = self._quizzes.popitem(last=False)
                self._replaced.pop(gone, None)
            return old

    def answer(
        self,
        graph_id: str,
        quiz_id: str,
        client: str,
        value: float,
        name: str | None,
        max_answers: int,
    ) -> int:
        with self._lock:
            quiz = self._quizzes.get(graph_id)
            if quiz is None or quiz.id != quiz_id:
                if quiz_id in self._replaced.get(graph_id, ()):
                    raise QuizClosed(CLOSED)
                raise QuizNotFound(f"There is no question {quiz_id[:40]!r} on this graph.")
            if quiz.status != "open":
                raise QuizClosed("That question is closed: its answer has been revealed.")
            if client not in quiz.answers and len(quiz.answers) >= max_answers:
                raise QuizFull(
                    f"That question already has {max_answers} answers, as many as it keeps."
                )
            quiz.answers[client] = Answer(value, name, time.time())
            return len(quiz.answers)

    def count(self, graph_id: str) -> int:
        with self._lock:
            quiz = self._quizzes.get(graph_id)
            return len(quiz.answers) if quiz is not None else 0

    def reveal(self, graph_id: str, truth: float) -> Quiz:
        with self._lock:
            quiz = self._quizzes.get(graph_id)
            if quiz is None:
                raise QuizNotFound("There is no question on this graph to reveal.")
            quiz.status = "revealed"
            quiz.truth = truth
            return quiz

    def get(self, graph_id: str) -> Quiz | None:
        with self._lock:
            return self._quizzes.get(graph_id)

    def close(self, graph_id: str) -> Quiz | None:
        with self._lock:
            quiz = self._quizzes.pop(graph_id, None)
            if quiz is not None:
                quiz.status = "closed"
                self._replaced[graph_id] = [quiz.id, *self._replaced.get(graph_id, [])][:8]
                while len(self._replaced) > self.max_graphs:
                    self._replaced.pop(next(iter(self._replaced)))
            return quiz

    def drop(self, graph_id: str) -> None:
        """Forget everything of the graph (it was deleted)."""
        with self._lock:
            self._quizzes.pop(graph_id, None)
            self._replaced.pop(graph_id, None)


# ---- the teacher's focus ---------------------------------------------------------------


class FocusStore(Protocol):
    def put(self, graph_id: str, focus: dict) -> None:
        """Keep the graph's focus: `{"node": id | None, "viewport": {...} | None, ...}`."""

    def get(self, graph_id: str) -> dict | None:
        """The graph's focus, or None if the teacher has not set one."""

    def close(self, graph_id: str) -> None:
        """Forget the graph's focus (the graph was deleted)."""


class MemoryFocusStore:
    def __init__(self, max_graphs: int = 1_000):
        self.max_graphs = max_graphs
        self._focus: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, graph_id: str, focus: dict) -> None:
        with self._lock:
            self._focus.pop(graph_id, None)
            self._focus[graph_id] = focus
            while len(self._focus) > self.max_graphs:
                self._focus.popitem(last=False)

    def get(self, graph_id: str) -> dict | None:
        with self._lock:
            return self._focus.get(graph_id)

    def close(self, graph_id: str) -> None:
        with self._lock:
            self._focus.pop(graph_id, None)


# ---- events, at most so many a second ----------------------------------------------------


class Coalescer:
    """Sends a graph's event at most once per `interval` seconds: a call within the interval
    of the last send schedules one send at its end, which reads the data then (the newest
    count), however many calls came in between. Runs on the event loop."""

    def __init__(self, interval: float):
        self.interval = interval
        self._last: dict[str, float] = {}
        self._pending: dict[str, asyncio.TimerHandle] = {}

    def send(self, key: str, emit: Callable[[], None], now: bool = False) -> None:
        """`emit` now if the interval has passed (or `now`), else once at its end."""
        t = time.monotonic()
        if now or t - self._last.get(key, -math.inf) >= self.interval:
            handle = self._pending.pop(key, None)
            if handle is not None:
                handle.cancel()
            self._last[key] = t
            emit()
            return
        if key in self._pending:
            return  # the pending send will read the newest data

        def fire() -> None:
            self._pending.pop(key, None)
            self._last[key] = time.monotonic()
            emit()

        loop = asyncio.get_running_loop()
        delay = self._last[key] + self.interval - t
        self._pending[key] = loop.call_later(delay, fire)
        if len(self._last) > 10_000:  # forget graphs not heard of for a while
            cutoff = t - 60
            for k in [k for k, v in self._last.items() if v < cutoff and k not in self._pending]:
                del self._last[k]

    def cancel(self, key: str) -> None:
        handle = self._pending.pop(key, None)
        if handle is not None:
            handle.cancel()


# ---- the reveal's numbers --------------------------------------------------------------


def within(value: float, truth: float) -> bool:
    """Within 1 % of the truth (for a truth of 0: within 1e-12 of it)."""
    return abs(value - truth) <= max(TOLERANCE * abs(truth), 1e-12)


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least `raw`."""
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * 10.0**exp
        if step >= raw * (1 - 1e-9):
            return step
    return 10.0 ** (exp + 1)


def histogram(answers: list[float], truth: float) -> dict:
    """Bins of round width that hold the truth and the answers (from 20 answers on, the
    middle 90 % of them); answers beyond are counted in `below` and `above`, so that one
    wild answer does not squash everyone else's into a single bar."""
    values = np.asarray(answers, dtype=float)
    if values.size:
        # a few answers are all shown; from 20 on, the wildest 5 % each side go to below/above
        cut = 0.05 if values.size >= 20 else 0.0
        lo_q, hi_q = np.quantile(values, [cut, 1 - cut])
        lo, hi = min(float(lo_q), truth), max(float(hi_q), truth)
    else:
        lo = hi = truth
    span = hi - lo
    # at least a few percent of the truth wide, so that "within 1 %" is a visible bar
    floor = max(abs(truth) * 0.1, 1e-9) if truth != 0 else max(abs(lo), abs(hi), 1.0) * 0.1
    if span < floor:
        centre = (lo + hi) / 2
        lo, hi, span = centre - floor / 2, centre + floor / 2, floor
    step = _nice_step(span / 10)
    start = math.floor(lo / step) * step
    n = max(1, math.ceil(round((hi - start) / step, 9)))
    # the edges as sent, and each answer placed against those very numbers: 0.7 belongs to
    # [0.7, 0.72), not to [0.68, 0.7) as (0.7 - 0.5) // 0.02 = 9 would have it
    edges = [_tidy(start + i * step, step) for i in range(n + 1)]
    while edges[-1] <= hi:  # the highest answer (or the truth) inside the last bin
        edges.append(_tidy(start + len(edges) * step, step))
    if edges[0] > lo:  # rounding took the first edge past the lowest answer
        edges.insert(0, _tidy(edges[0] - step, step))
    edges = edges[: MAX_BINS + 1]
    n = len(edges) - 1
    counts = [0] * n
    below = above = 0
    for v in values.tolist():
        if v < edges[0]:
            below += 1
        elif v >= edges[-1]:
            above += 1
        else:
            counts[bisect.bisect_right(edges, v) - 1] += 1
    return {
        "edges": edges,
        "counts": counts,
        "below": below,
        "above": above,
    }


def _tidy(edge: float, step: float) -> float:
    """An edge without float noise (0.30000000000000004 -> 0.3)."""
    digits = max(0, -math.floor(math.log10(step)) + 2)
    return round(edge, digits)


def results(quiz: Quiz) -> dict:
    """What the reveal shows: truth, histogram, share within 1 %."""
    truth = float(quiz.truth)  # type: ignore[arg-type]
    values = [a.value for a in quiz.answers.values()]
    right = sum(within(v, truth) for v in values)
    return {
        "truth": truth,
        "histogram": histogram(values, truth) if math.isfinite(truth) else None,
        "within_1pct": right,
        "share_within_1pct": right / len(values) if values else 0.0,
    }


def view(quiz: Quiz | None, graph_id: str) -> dict:
    """The question as everyone may see it: the answers only after the reveal."""
    if quiz is None:
        return {"graph_id": graph_id, "status": "none", "quiz_id": None}
    out: dict = {
        "graph_id": graph_id,
        "quiz_id": quiz.id,
        "node": quiz.node,
        "quantity": quiz.quantity,
        "status": quiz.status,
        "answers": quiz.count,
        "opened": quiz.opened,
    }
    if quiz.status == "revealed" and quiz.truth is not None:
        out.update(results(quiz))
    return out
