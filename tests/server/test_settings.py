"""Settings: working defaults, STEPGRAD_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stepgrad.app.settings import Settings, default_db_path


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    for key in ("STEPGRAD_DB", "STEPGRAD_HOST", "STEPGRAD_PORT", "STEPGRAD_MAX_NODES"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.host == "127.0.0.1" and s.port == 8000
    assert s.db == str(tmp_path / "stepgrad" / "stepgrad.db")
    assert s.max_nodes == 10_000 and s.max_elements == 100_000
    assert s.max_total_elements == 1_000_000 and s.max_body_bytes == 2_000_000
    assert s.max_expression_length == 10_000 and s.max_expression_depth == 64
    assert s.max_train_work == 1_000_000_000 and s.max_graphs == 1000
    assert s.rate_create == "60/minute;600/hour" and s.max_job_seconds == 20.0
    assert s.idle_expiry_seconds == 7 * 24 * 3600 and s.summary_threshold == 64


def test_default_db_without_xdg(monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_db_path() == str(Path.home() / ".local/share/stepgrad/stepgrad.db")


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("STEPGRAD_DB", ":memory:")
    monkeypatch.setenv("STEPGRAD_MAX_NODES", "50")
    monkeypatch.setenv("STEPGRAD_HOST", "0.0.0.0")
    s = Settings()
    assert s.db == ":memory:" and s.max_nodes == 50 and s.host == "0.0.0.0"
    monkeypatch.setenv("STEPGRAD_MAX_NODES", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_the_store_is_sqlite_or_a_redis_url(monkeypatch):
    from stepgrad.app.storage.backends import make_store
    from stepgrad.app.storage.redis_store import RedisStore
    from stepgrad.app.storage.sqlite_store import SQLiteStore

    assert isinstance(make_store(Settings(db=":memory:")), SQLiteStore)
    monkeypatch.setenv("STEPGRAD_STORE", " redis://127.0.0.1:6379/2 ")
    s = Settings(db=":memory:")
    assert s.store == "redis://127.0.0.1:6379/2"
    store = make_store(s)  # connects on first use only
    assert isinstance(store, RedisStore) and store.shared and store.idle_seconds == 604800
    store.close()
    monkeypatch.setenv("STEPGRAD_STORE", "postgres://db/1")
    with pytest.raises(ValidationError, match="redis://"):
        Settings()


def test_a_lecture_hall_behind_one_address_fits_the_defaults():
    """1,000 students behind one router follow and answer; one address holds 40 % of the
    streams at most, and the streams leave connections for everything else."""
    s = Settings(db=":memory:")
    assert (s.max_streams, s.max_streams_per_address, s.max_connections) == (2500, 1000, 4000)
    assert s.quiz_max_answers >= 1000 and s.proxy_headers is False
    from limits import parse_many

    # every window of the answer rate (a minute, an hour) holds a lecture hall's answers
    assert all(item.amount >= 1000 for item in parse_many(s.rate_answer))
    # unset, the per-address cap follows max_streams; set, it may not pass 40 % of it
    assert Settings(db=":memory:", max_streams=100).max_streams_per_address == 40
    assert Settings(db=":memory:", max_streams=2).max_streams_per_address == 1
    with pytest.raises(ValidationError, match="more than 40 % of max_streams"):
        Settings(db=":memory:", max_streams=100, max_streams_per_address=41)
    with pytest.raises(ValidationError, match="Raise max_connections"):
        Settings(db=":memory:", max_streams=4000)
