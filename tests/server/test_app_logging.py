"""Logging: one line per failed request, the traceback of every error caught and carried
on after, configured once by `stepgrad serve` (STEPGRAD_LOG_LEVEL)."""

from __future__ import annotations

import logging
import logging.config
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from stepgrad.app.cli import logging_setup
from stepgrad.app.redact import fingerprint
from stepgrad.app.settings import Settings


@pytest.fixture
def app_log(caplog):
    caplog.set_level(logging.DEBUG, logger="stepgrad")
    return caplog


def lines(caplog, logger: str) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == logger]


def test_failed_requests_are_logged_one_line_each(client, app_log):
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/graphs/nosuchgraph").status_code == 404
    r = client.post("/api/graphs", content=b"x=1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert lines(app_log, "stepgrad.app.http.request_log") == [
        (logging.INFO, f"GET /api/graphs/{fingerprint('nosuchgraph')} -> 404"),
        (logging.INFO, "POST /api/graphs -> 415"),
    ]


def test_a_path_cannot_forge_log_lines(client, app_log):
    assert client.get("/api/nothing/a%0AINFO:%20fake").status_code == 404
    ((_, message),) = lines(app_log, "stepgrad.app.http.request_log")
    assert "\n" not in message
    assert message == "GET /api/nothing/a\\nINFO: fake -> 404"


def test_the_log_never_holds_a_view_link(client, app_log, caplog):
    """A graph's id is its view link, a room's its follow link: failed requests on them are
    logged with the id's fingerprint, at every level."""
    caplog.set_level(logging.DEBUG)
    graph = client.post("/api/graphs", json={"example": "seed"}).json()
    room = client.post("/api/rooms", json={"lesson": "day1"}).json()
    gid, rid = graph["id"], room["id"]
    failing = [
        ("post", f"/api/graphs/{gid}/forward"),  # no token: 401
        ("get", f"/api/graphs/{gid}/node/nope"),
        ("get", f"/api/graphs/{gid}/events?format=nonsense"),
        ("put", f"/api/rooms/{rid}"),  # no body: 422
        ("get", f"/api/rooms/{rid}x"),
        ("get", f"/g/{gid}/nothing"),
        ("get", f"/r/{rid}/nothing"),
    ]
    for method, url in failing:
        assert getattr(client, method)(url).status_code >= 400, url
    # the server's loggers (the test's own HTTP client logs its URLs)
    text = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("stepgrad", "uvicorn"))
    )
    assert gid not in text and rid not in text
    logged = lines(app_log, "stepgrad.app.http.request_log")
    assert len(logged) == len(failing)
    assert f"POST /api/graphs/{fingerprint(gid)}/forward -> 401" in [m for _, m in logged]
    assert f"PUT /api/rooms/{fingerprint(rid)} -> 422" in [m for _, m in logged]


def test_an_unhandled_error_is_a_500_line_and_its_traceback_reaches_the_server(app_log):
    from stepgrad.app.main import create_app

    app = create_app(Settings(db=":memory:"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/boom").status_code == 500
    assert lines(app_log, "stepgrad.app.http.request_log") == [(logging.ERROR, "GET /boom -> 500")]


def test_a_failing_sweep_is_logged_with_its_traceback_and_retried(make_client, app_log):
    client = make_client(sweep_interval_seconds=0.01)
    calls = []

    def broken_sweep():
        calls.append(1)
        raise OSError("disk I/O error")

    client.app.state.services.graphs.sweep = broken_sweep
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) >= 2, "the sweeper stopped after a failure"
    records = [r for r in app_log.records if r.name == "stepgrad.app.main"]
    assert records and records[0].levelno == logging.ERROR
    assert "deleting expired graphs failed" in records[0].getMessage()
    assert records[0].exc_info[0] is OSError


def test_log_level_setting(monkeypatch):
    assert Settings(db=":memory:").log_level == "info"
    monkeypatch.setenv("STEPGRAD_LOG_LEVEL", "WARNING")
    assert Settings(db=":memory:").log_level == "warning"
    monkeypatch.setenv("STEPGRAD_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError):
        Settings(db=":memory:")


def test_uvicorn_gets_one_configuration_with_the_app_logger(capsys):
    options = logging_setup.uvicorn_options("info")
    assert options["log_level"] == "info" and options["access_log"] is False
    assert logging_setup.uvicorn_options("debug")["access_log"] is True
    # dictConfig changes these loggers for the whole process: put them back afterwards
    loggers = [
        logging.getLogger(n) for n in ("stepgrad", "uvicorn", "uvicorn.error", "uvicorn.access")
    ]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        logging.config.dictConfig(options["log_config"])
        logging.getLogger("stepgrad.app.http.request_log").info("GET /x -> 404")
        logging.getLogger("stepgrad.app.http.request_log").debug("not shown at info")
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate
    err = capsys.readouterr().err
    assert "stepgrad.app.http.request_log: GET /x -> 404" in err
    assert "not shown" not in err


def test_serve_passes_the_logging_options_to_uvicorn(monkeypatch):
    import uvicorn

    from stepgrad.app.cli.main import main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setenv("STEPGRAD_LOG_LEVEL", "debug")
    monkeypatch.setenv("STEPGRAD_DB", ":memory:")
    assert main(["serve", "--port", "8123"]) == 0
    assert seen["port"] == 8123 and seen["log_level"] == "debug" and seen["access_log"]
    assert seen["log_config"]["loggers"]["stepgrad"]["level"] == "DEBUG"
