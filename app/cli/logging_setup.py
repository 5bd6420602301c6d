"""Where the service's logging is configured: once, by `stepgrad serve`, never on import.

The app's modules log to loggers named after them (`stepgrad.app.main`,
`stepgrad.app.http.request_log`, ...), children of `stepgrad`. `uvicorn_options(level)`
gives uvicorn a logging configuration that adds a `stepgrad` logger, in the same format as
uvicorn's own lines, at the level of the `log_level` setting (`STEPGRAD_LOG_LEVEL`). The
default, `info`, shows the server starting, one line per request that failed (4xx or 5xx)
and the traceback of every error the server caught and carried on after; `debug` adds
uvicorn's line for every request. Run with plain `uvicorn stepgrad.app.main:app`, the
app's warnings and errors still reach stderr
through Python's last-resort handler.
"""

from __future__ import annotations

import copy


def log_config(level: str) -> dict:
    """uvicorn's default dictConfig plus the `stepgrad` logger at `level`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["app"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["app"] = {
        "formatter": "app",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["stepgrad"] = {
        "handlers": ["app"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def uvicorn_options(level: str) -> dict:
    """Keyword arguments for `uvicorn.run`: the logging configuration, and uvicorn's own
    per-request access line only at `debug` (at `info` the app logs the failed ones)."""
    return {"log_config": log_config(level), "log_level": level, "access_log": level == "debug"}
