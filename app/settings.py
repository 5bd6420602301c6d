"""Every setting of the service, each with an environment variable `STEPGRAD_<NAME>`.

The defaults work with no configuration: a SQLite file in the user's data directory,
the server on 127.0.0.1:8000, and limits sized for teaching graphs (a 2,000-node graph
still works).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    host: str = Field("127.0.0.1", description="Address `stepgrad serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `stepgrad serve` listens on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info",
        description="What `stepgrad serve` logs: at info, one line per failed request and "
        "the traceback of every error caught; debug adds a line per request.",
    )

    # limits on what a client may send
    max_nodes: int = Field(2_000, ge=1, description="Nodes per graph.")
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
        200_000, ge=1, description="Epochs x steps per epoch in one training call."
    )
    max_gradcheck_work: int = Field(
        20_000_000,
        ge=1,
        description="Node evaluations one gradient check may make (2 x checked elements x nodes).",
    )

    # what the server keeps
    max_graphs: int = Field(
        1_000, ge=1, description="Graphs kept; past it the least recently used are deleted."
    )
    max_loaded_graphs: int = Field(
        100, ge=1, description="Graphs kept computed in memory; others reload from the store."
    )
    idle_expiry_seconds: float = Field(
        7 * 24 * 3600.0, gt=0, description="A graph not used for this long is deleted."
    )
    sweep_interval_seconds: float = Field(
        600.0, gt=0, description="How often the server deletes expired graphs."
    )

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
    sse_ping_seconds: float = Field(
        15.0, gt=0, description="Seconds between heartbeat comments on an event stream."
    )
    sse_queue_size: int = Field(
        64, ge=1, description="Events buffered per slow subscriber before it is resynced."
    )
    progress_interval_seconds: float = Field(
        0.1, ge=0, description="Least time between two training progress events."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
