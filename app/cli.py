"""The `stepgrad` command line."""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stepgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default=os.environ.get("STEPGRAD_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("STEPGRAD_PORT", "8000")))
    args = parser.parse_args(argv)
    if args.command == "serve":
        import uvicorn

        uvicorn.run("app.main:app", host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
