"""Every setting of the service, each with an environment variable `STEPGRAD_<NAME>`.

The defaults work with no configuration: a SQLite file in the user's data directory,
the server on 127.0.0.1:8000, and limits sized for teaching graphs (a 2,000-node graph
still works).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# one address may hold at most this share of the server's event streams (max_streams)
ADDRESS_SHARE_PERCENT = 40


def default_db_path() -> str:
    """`$XDG_DATA_HOME/stepgrad/stepgrad.db`, or `~/.local/share/stepgrad/stepgrad.db`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "stepgrad" / "stepgrad.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STEPGRAD_", extra="ignore")

    # where and how to serve
    db: str = Field(
        default_factory=default_db_path,
        description="SQLite database file; ':memory:' keeps graphs in memory only.",
    )
    store: str = Field(
        "",
        description="Empty: the SQLite file of `db` (one server process). "
        "`redis://host:port/n`: Redis keeps the graphs, their locks and live events, so that "
        "several processes (`--workers N`, several hosts) serve the same graphs.",
    )
    host: str = Field("127.0.0.1", description="Address `stepgrad serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `stepgrad serve` listens on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info",
        description="What `stepgrad serve` logs: at info, one line per failed request and "
        "the traceback of every error caught; debug adds a line per request.",
    )

    # limits on what a client may send
    max_nodes: int = Field(10_000, ge=1, description="Nodes per graph.")
    max_elements: int = Field(100_000, ge=1, description="Elements per tensor.")
    max_total_elements: int = Field(
        1_000_000, ge=1, description="Elements summed over every node of a graph."
    )
    max_expression_length: int = Field(10_000, ge=1, description="Characters per expression.")
    max_expression_depth: int = Field(
        64, ge=1, description="Nesting of brackets and of the expression tree."
    )
    max_body_bytes: int = Field(2_000_000, ge=1, description="Bytes per request body.")
    max_train_work: int = Field(
        1_000_000_000,
        ge=1,
        description="Element operations one training call may make (see app/work.py).",
    )
    max_gradcheck_work: int = Field(
        1_000_000_000,
        ge=1,
        description="Element operations one gradient check may make (see app/work.py).",
    )
    race_torch: bool = Field(
        True,
        description="Whether the race trains with PyTorch too when it is installed (false: the "
        "engine and numpy only, a lighter race).",
    )
    max_race_work: int = Field(
        500_000_000,
        ge=1,
        description="Element operations one race may make, its trainers together.",
    )
    max_toposort_work: int = Field(
        250_000,
        ge=1,
        description="Node names the steps of one topological sort may list (its response size).",
    )

    # heavy calls (training, gradient checks, races, sorts) run in a pool of their own
    job_workers: int = Field(2, ge=1, description="Heavy calls running at once.")
    job_queue: int = Field(
        8, ge=0, description="Heavy calls waiting for a worker; past it, 503 with Retry-After."
    )
    max_job_seconds: float = Field(
        20.0, gt=0, description="Time budget of one heavy call; past it the call stops (413)."
    )

    # per client address
    rate_create: str = Field(
        "60/minute;600/hour",
        description="Graphs one address may create or fork (the `limits` notation).",
    )
    rate_heavy: str = Field(
        "60/minute",
        description="Anonymous heavy calls (gradient checks, races, sorts) per address.",
    )
    rate_answer: str = Field(
        "3000/minute;30000/hour",
        description="Quiz answers one address may post: a lecture hall of 1,000 behind one "
        "router shares one, and each student may change an answer.",
    )
    max_streams: int = Field(
        2_500,
        ge=1,
        description="Open event streams, all clients together (one per follower's page).",
    )
    max_streams_per_address: int = Field(
        1_000,
        ge=1,
        description="Open event streams per address (a school network shares one). Unset: "
        "40 % of max_streams; set: at most that, so one address never holds the pool other "
        "classes need.",
    )

    # behind a reverse proxy
    proxy_headers: bool = Field(
        False,
        description="`stepgrad serve`: take a client's address from X-Forwarded-For (and the "
        "scheme from X-Forwarded-Proto) on connections from `forwarded_allow_ips` only. Off: "
        "a client's address is always the connection's peer and forwarded headers are ignored.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="`stepgrad serve` with proxy_headers: the reverse proxies believed, "
        "comma-separated addresses or networks (127.0.0.1,10.0.0.0/8). Unused without "
        "proxy_headers.",
    )

    # connections and bodies
    body_timeout_seconds: float = Field(
        10.0, gt=0, description="Time to send a whole request body (then 408)."
    )
    max_buffered_body_bytes: int = Field(
        64_000_000,
        ge=1,
        description="Request bodies held in memory at once, all requests together (then 503).",
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="`stepgrad serve`: time to send a request's headers."
    )
    keep_alive_seconds: float = Field(
        5.0, gt=0, description="`stepgrad serve`: an idle kept-alive connection is closed after."
    )
    max_connections: int = Field(
        4_000,
        ge=1,
        description="`stepgrad serve`: connections and requests at once (then 503); an open "
        "event stream is one, so it must exceed max_streams.",
    )
    max_header_bytes: int = Field(
        16_384, ge=1_024, description="`stepgrad serve`: bytes of a request's line and headers."
    )
    shutdown_grace_seconds: float = Field(
        3.0,
        ge=0,
        description="`stepgrad serve`: on SIGTERM, time given to running calls before they stop.",
    )

    # what the server keeps
    max_graphs: int = Field(
        1_000,
        ge=1,
        description="Graphs kept; when all are in use (within idle_expiry_seconds), creating "
        "one answers 503.",
    )
    max_rooms: int = Field(
        1_000,
        ge=1,
        description="Rooms (one follow link per lesson) kept; when all are in use (within "
        "idle_expiry_seconds), creating one answers 503.",
    )
    max_loaded_graphs: int = Field(
        100, ge=1, description="Graphs kept computed in memory; others reload from the store."
    )
    max_loaded_nodes: int = Field(
        50_000,
        ge=1,
        description="Nodes summed over the graphs kept computed in memory (a node costs about "
        "4 KiB there); past it the least recently used unused graphs reload from the store.",
    )
    max_loaded_elements: int = Field(
        5_000_000,
        ge=1,
        description="Tensor elements summed over the graphs kept computed in memory (an "
        "element costs about 14 bytes there); past it as for max_loaded_nodes.",
    )
    idle_expiry_seconds: float = Field(
        7 * 24 * 3600.0, gt=0, description="A graph not used for this long is deleted."
    )
    sweep_interval_seconds: float = Field(
        600.0, gt=0, description="How often the server deletes expired graphs."
    )
    rate_create_nodes: str = Field(
        "30000/minute;200000/hour",
        description="Nodes of the graphs one address may have built (creations, forks and "
        "replaced specs; the `limits` notation): a flood of large graphs is refused before "
        "it is built.",
    )

    @field_validator("rate_create_nodes")
    @classmethod
    def _rate_nodes(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate such as '30000/minute;200000/hour'"
            ) from None
        return value

    # how the state is shown
    summary_threshold: int = Field(
        64,
        ge=1,
        description="Tensors with more elements than this are summarised in the state "
        "(full values with ?full=true or from the node endpoint).",
    )

    # concurrency and live events
    lock_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a change waits for a busy graph before a 409."
    )
    lock_expiry_seconds: float = Field(
        10.0,
        gt=0,
        description="With Redis: a graph's lock lapses this long after its holder stops "
        "renewing it (its process died); a live holder renews it while a change runs.",
    )
    sse_ping_seconds: float = Field(
        15.0, gt=0, description="Seconds between heartbeat comments on an event stream."
    )
    sse_queue_size: int = Field(
        64, ge=1, description="Events buffered per slow subscriber before it is resynced."
    )
    progress_interval_seconds: float = Field(
        0.1, ge=0, description="Least time between two training progress events."
    )

    # the class quiz and the teacher's focus
    quiz_max_answers: int = Field(
        2_500,
        ge=1,
        description="Answers one quiz question keeps (one per browser): as many as max_streams "
        "followers.",
    )
    quiz_event_interval_seconds: float = Field(
        0.25, ge=0, description="Least time between two events counting a quiz's answers."
    )
    focus_event_interval_seconds: float = Field(
        0.1, ge=0, description="Least time between two events moving the teacher's focus."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"{value[:60]!r} is not a store: leave it empty for the SQLite file of "
                "STEPGRAD_DB, or give a Redis URL such as redis://127.0.0.1:6379/0"
            )
        return value

    @field_validator("rate_create", "rate_heavy", "rate_answer")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate such as '60/minute' or '60/minute;600/hour'"
            ) from None
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        proxies = [part.strip() for part in value.split(",") if part.strip()]
        for proxy in proxies:
            if proxy == "*":
                raise ValueError(
                    "'*' would believe the X-Forwarded-For of any client that reaches the port, "
                    "a header anyone can forge: name the reverse proxies' addresses or networks"
                )
            try:
                if "/" in proxy:
                    ipaddress.ip_network(proxy)
                else:
                    ipaddress.ip_address(proxy)
            except ValueError:
                raise ValueError(
                    f"{proxy[:60]!r} is not an IP address or network such as 127.0.0.1 or "
                    "10.0.0.0/8 (network with its host bits zero)"
                ) from None
        return ",".join(proxies)

    @model_validator(mode="after")
    def _together(self) -> Settings:
        share = max(1, self.max_streams * ADDRESS_SHARE_PERCENT // 100)
        if "max_streams_per_address" not in self.model_fields_set:
            self.max_streams_per_address = share  # 1,000 of the default 2,500
        elif self.max_streams_per_address > share:
            raise ValueError(
                f"max_streams_per_address ({self.max_streams_per_address}) is more than "
                f"{ADDRESS_SHARE_PERCENT} % of max_streams ({self.max_streams}): one address "
                f"could hold the streams other classes need. Set it to {share} or less, or "
                "raise max_streams."
            )
        if self.max_streams >= self.max_connections:
            raise ValueError(
                f"max_streams ({self.max_streams}) leaves no room in max_connections "
                f"({self.max_connections}): every open stream holds a connection, and steps, "
                "answers and pages need theirs. Raise max_connections above max_streams."
            )
        if self.proxy_headers and not self.forwarded_allow_ips:
            raise ValueError(
                "proxy_headers is on but forwarded_allow_ips names no proxy: give the reverse "
                "proxy's address (127.0.0.1 when it runs on this machine)."
            )
        return self
