"""Serve one app for the HTTP stage: `python -m benchmarks.serve perfledger|noop PORT [WORKERS]`.

Both apps are served the same way: uvicorn on 127.0.0.1, no access log (a log line per request
would be measured as well), one process or WORKERS. Perfledger is `api.app.create_app` on the
store named by PERFLEDGER_DATABASE_URL, as `perfledger serve` runs it; with several workers it is
`perfledger serve --workers N` itself (projections kept by its follow worker).
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    which, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if workers > 1:
        serve_workers(which, port, workers)
        return
    if which == "perfledger":
        from api.app import create_app

        app = create_app()
    elif which == "noop":
        from benchmarks.noop_app import create_noop_app

        app = create_noop_app()
    else:
        raise SystemExit(f"unknown app {which!r}: perfledger or noop")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_workers(which: str, port: int, workers: int) -> None:
    if which == "perfledger":
        from api.cli import app

        app(["serve", "--port", str(port), "--workers", str(workers), "--projections", "follow", "--no-access-log"])
        return
    uvicorn.run(
        "benchmarks.noop_app:create_noop_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
