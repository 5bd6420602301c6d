"""Heavy calls (training, gradient checks, races, sorts) run in a pool of their own.

The request threads (anyio's pool) stay free for reads however much heavy work is going
on: at most `job_workers` heavy calls run at once and `job_queue` more wait, on the event
loop; past that a call is refused at once (503 with Retry-After). A running call gets a
`Job`, whose `check` the engine calls between evaluations or steps: it raises `JobStopped`
when the call's time budget (`max_job_seconds`) is spent, when its client has gone, or
when the server shuts down. Python threads cannot be killed, so stopping is cooperative
and comes within one evaluation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fastapi import Request

from stepgrad.app.settings import Settings

T = TypeVar("T")
POLL_SECONDS = 0.2  # how often a waiting call looks for its client having gone


class JobStopped(Exception):
    """A heavy call stopped before its end; `reason` is budget, client or shutdown."""

    def __init__(self, job: Job, reason: str):
        super().__init__(reason)
        self.job = job
        self.reason = reason


class PoolFull(Exception):
    pass


class Job:
    """One heavy call: its time budget and the flag that stops it."""

    def __init__(self, what: str, budget: float):
        self.what = what
        self.budget = budget
        self.started: float | None = None
        self.deadline = float("inf")
        self.reason: str | None = None
        self.checks = 0  # steps or evaluations made, for the refusal's sentence

    def begin(self) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + self.budget

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def check(self) -> None:
        """Called by the engine between units of work, from the worker thread."""
        self.checks += 1
        if self.reason is None and time.monotonic() > self.deadline:
            self.reason = "budget"
        if self.reason is not None:
            raise JobStopped(self, self.reason)

    @property
    def seconds(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started


class JobPool:
    def __init__(self, settings: Settings):
        self.workers = settings.job_workers
        self.capacity = settings.job_workers + settings.job_queue
        self.budget = settings.max_job_seconds
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="stepgrad-job")
        self._jobs: set[Job] = set()  # accepted and not finished (queued or running)
        self._lock = threading.Lock()
        self.closed = False

    def busy(self) -> int:
        with self._lock:
            return len(self._jobs)

    async def run(self, request: Request | None, what: str, fn: Callable[[Job], T]) -> T:
        """Run `fn(job)` in the pool and return its result; JobStopped if it was stopped,
        PoolFull if the pool and its queue are full. `what` names the call in sentences
        ("The gradient check")."""
        job = Job(what, self.budget)
        with self._lock:
            if self.closed:
                raise JobStopped(job, "shutdown")
            if len(self._jobs) >= self.capacity:
                raise PoolFull(
                    f"The server is busy with {len(self._jobs)} heavy calls (training, "
                    f"gradient checks, races, sorts), its limit; try again in a few seconds."
                )
            self._jobs.add(job)
        try:
            future = asyncio.wrap_future(self._executor.submit(self._call, job, fn))
        except RuntimeError:  # the executor has shut down
            self._finished(job)
            raise JobStopped(job, "shutdown") from None
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=POLL_SECONDS)
                if done:
                    return future.result()
                if request is not None and await request.is_disconnected():
                    job.stop("client")
        except asyncio.CancelledError:
            # the server is shutting down (or the task was cancelled otherwise); the worker
            # stops at its next check and its outcome is dropped
            job.stop("shutdown")
            future.cancel()
            raise

    def _call(self, job: Job, fn: Callable[[Job], T]) -> T:
        try:
            job.begin()
            job.check()  # stopped while it waited in the queue
            return fn(job)
        finally:
            self._finished(job)

    def _finished(self, job: Job) -> None:
        with self._lock:
            self._jobs.discard(job)

    def shutdown(self) -> None:
        """Stop every call: running ones at their next check, queued ones before they start."""
        with self._lock:
            self.closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.stop("shutdown")
        self._executor.shutdown(wait=False, cancel_futures=True)
