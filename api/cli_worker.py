"""`perfledger project` and `perfledger serve`: the projection worker and the HTTP server.

Who keeps the projections up to date (`serve --projections`, or PERFLEDGER_PROJECTIONS):
- `in-request` (the default with one worker): every read first brings the projections up to the
  head of the log, so it sees every write acknowledged before it;
- `follow` (the default with --workers > 1): the serve process runs a projection worker next to
  its API workers; reads do not fold, and a read passing `after=<position>` (the position
  POST /events answered) waits until the projections include it;
- `external`: as `follow`, but a separate `perfledger project --follow` does the folding.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from fastapi import FastAPI

from api.cli_common import EXIT_CONFIG, err, fail, load_settings, open_store, out, position_bar
from ledger.config import Settings

PROJECTIONS_ENV = "PERFLEDGER_PROJECTIONS"
# Seconds a worker may take to answer uvicorn's supervisor (5 by default): a worker still
# importing the app on a busy machine would otherwise be killed and restarted, dropping requests.
WORKER_HEALTHCHECK = 30


class ProjectionsMode(StrEnum):
    in_request = "in-request"
    follow = "follow"
    external = "external"


# ---------------------------------------------------------------- perfledger project


def project(
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help=(
                "Keep running: catch up as events arrive (LISTEN/NOTIFY on PostgreSQL, polling on SQLite)"
                " until SIGTERM or Ctrl-C."
            ),
        ),
    ] = False,
    poll: Annotated[
        float,
        typer.Option(
            min=0.05,
            max=60,
            help=(
                "Longest wait between looks at the log, in seconds"
                " (SQLite's back-off ceiling; PostgreSQL's safety net)."
            ),
        ),
    ] = 1.0,
    batch: Annotated[int, typer.Option(min=1, max=50_000, help="Events per projection transaction.")] = 5000,
) -> None:
    """Bring every projection up to the head of the log; with --follow, keep them there.

    Safe to run beside API workers and other projection workers (each batch is applied once),
    and to kill at any moment: the batch in progress is rolled back and redone on restart."""
    settings = load_settings()
    with open_store(settings) as (ledger, engine):
        if not follow:
            reached = _catch_up_once(ledger, engine, batch)
            out.print(f"Projections up to date at position {reached}.", highlight=False)
            return
        _log_to_stderr()
        reached = _follow_until_signalled(ledger, engine, poll, batch)
    err.print(f"Projection worker stopped at position {reached}.", highlight=False)


def _catch_up_once(ledger: Any, engine: Any, batch: int) -> int:
    from projections.runner import catch_up

    with position_bar("bringing the projections up to date") as advance:
        return catch_up(ledger, engine, batch_size=batch, progress=advance)


def _follow_until_signalled(ledger: Any, engine: Any, poll: float, batch: int) -> int:
    from projections.worker import follow, stop_on_signals

    with stop_on_signals(threading.Event()) as stop_event:
        return follow(ledger, engine, stop_event, poll, batch_size=batch)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ---------------------------------------------------------------- perfledger serve


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API worker processes (they share the database).")] = 1,
    projections: Annotated[
        ProjectionsMode | None,
        typer.Option(
            help="Who keeps the projections up to date: in-request (each read folds first; default with one worker), "
            "follow (a projection worker in this process; default with several), external (a separate "
            f"`perfledger project --follow`). Also {PROJECTIONS_ENV}."
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request.")] = True,
    read_database_url: Annotated[
        str | None,
        typer.Option(
            help="Read the projections from this PostgreSQL replica (GET requests; `after=` waits for its position). "
            "Also PERFLEDGER_READ_DATABASE_URL."
        ),
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    if read_database_url:
        os.environ["PERFLEDGER_READ_DATABASE_URL"] = read_database_url  # read by every worker process's app
    settings = load_settings()
    mode = projections_mode(projections, workers, replica=bool(settings.read_database_url))
    os.environ[PROJECTIONS_ENV] = mode.value  # read by every worker process's app (api_for_workers)
    err.print(
        f"Perfledger on http://{host}:{port} (docs at /docs), {workers} worker(s), projections {mode.value}, "
        f"database {settings.database_url}",
        highlight=False,
    )
    with _projection_worker(settings, mode is ProjectionsMode.follow):
        uvicorn.run(
            "api.cli_worker:api_for_workers",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK,
        )


def projections_mode(chosen: ProjectionsMode | None, workers: int, replica: bool = False) -> ProjectionsMode:
    """The mode asked for, else the environment's, else in-request for one worker and follow for
    several. Reads from a replica need a worker on the primary (a read cannot fold there):
    follow by default, in-request refused."""
    mode = chosen
    configured = os.environ.get(PROJECTIONS_ENV)
    if mode is None and configured:
        try:
            mode = ProjectionsMode(configured)
        except ValueError:
            fail(f"{PROJECTIONS_ENV}={configured!r} is not a mode", "use in-request, follow or external", EXIT_CONFIG)
    if mode is None:
        mode = ProjectionsMode.in_request if workers == 1 and not replica else ProjectionsMode.follow
    if replica and mode is ProjectionsMode.in_request:
        fail(
            "--projections in-request cannot read from a replica: a read there cannot fold the log",
            "use --projections follow (the default with a replica) or external",
            EXIT_CONFIG,
        )
    return mode


@contextmanager
def _projection_worker(settings: Settings, wanted: bool) -> Iterator[None]:
    """A projection worker thread for the life of the server (mode `follow`)."""
    if not wanted:
        yield
        return
    from projections.worker import follow

    _log_to_stderr()
    stop_event = threading.Event()
    with open_store(settings) as (ledger, engine):
        thread = threading.Thread(
            target=follow, args=(ledger, engine, stop_event), name="projection-worker", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop_event.set()
            thread.join(timeout=30)


def api_for_workers() -> FastAPI:
    """The app as each uvicorn worker builds it: settings from the environment; with a projection
    worker (mode follow or external), reads wait for `after=` instead of folding in-request."""
    from api.app import create_app

    mode = os.environ.get(PROJECTIONS_ENV, ProjectionsMode.in_request.value)
    return create_app(load_settings(), projection_worker=mode != ProjectionsMode.in_request.value)
