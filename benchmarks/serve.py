"""Serve one app for the HTTP stage: `python -m benchmarks.serve perfledger|noop PORT`.

Both apps are served the same way: one uvicorn process on 127.0.0.1, no access log (a log line
per request would be measured as well). Perfledger is `api.app.create_app` on the store named by
PERFLEDGER_DATABASE_URL, as `perfledger serve` runs it.
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    which, port = sys.argv[1], int(sys.argv[2])
    if which == "perfledger":
        from api.app import create_app

        app = create_app()
    elif which == "noop":
        from benchmarks.noop_app import create_noop_app

        app = create_noop_app()
    else:
        raise SystemExit(f"unknown app {which!r}: perfledger or noop")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
