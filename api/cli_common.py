"""What every `perfledger` command shares: the two consoles, failing with a hint, the settings,
the store (ledger and read-side engine), progress bars and times given on the command line.

Output: tables and trees go to stdout (`out`); progress, notes and errors to stderr (`err`).
Exit codes: 0 done, 1 refused (bad input, a broken chain, a refusal of the ledger), 2
misconfigured (environment, arguments).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from api.i18n import Lang, choose, lang
from ledger.config import ConfigError, Settings, settings_from_env
from ledger.store import Ledger


def _console(**options: Any) -> Console:
    console = Console(**options)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # a file or a pipe: no reason to cut tables at 80 columns
    return console


out = _console(soft_wrap=True)  # results
err = _console(stderr=True)  # progress, notes and errors

EXIT_REFUSED, EXIT_CONFIG = 1, 2
_asked: dict[str, str | None] = {"locale": None}  # `perfledger --locale …`, set by the app's callback


def ask_locale(locale: str | None) -> None:
    _asked["locale"] = locale


def speaker(settings: Settings | None = None) -> Lang:
    """The language of this command's output: --locale, else PERFLEDGER_LOCALE, else zh-CN."""
    configured = settings.locale if settings is not None else os.environ.get("PERFLEDGER_LOCALE")
    return lang(choose(_asked["locale"], configured))


URL_HINT = "set PERFLEDGER_DATABASE_URL to sqlite:///FILE or postgresql://USER@HOST/DB"


def fail(message: str, hint: str = "", code: int = EXIT_REFUSED) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    if hint:
        err.print(f"[dim]→ {hint}[/]", highlight=False)
    raise typer.Exit(code)


def load_settings(database_url: str | None = None) -> Settings:
    """The environment's settings; `database_url` (a command's --database-url) overrides its URL."""
    try:
        settings = settings_from_env()
    except ConfigError as error:
        fail(str(error), "fix the environment variable and run the command again", EXIT_CONFIG)
    if database_url:
        settings = replace(settings, database_url=database_url)
    return settings


@contextmanager
def open_ledger(settings: Settings) -> Iterator[Ledger]:
    from eventsourcing.persistence import PersistenceError

    try:
        ledger = Ledger(settings)
    except ValueError as error:  # an unusable PERFLEDGER_DATABASE_URL
        fail(str(error), URL_HINT, EXIT_CONFIG)
    except PersistenceError as error:  # a database that cannot be opened or reached
        fail(
            f"cannot open the ledger at {settings.database_url}: {error}",
            "check that the folder exists and is writable, or that the database server answers",
            EXIT_CONFIG,
        )
    try:
        yield ledger
    finally:
        ledger.close()


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    """The read side's engine on the ledger's database, disposed of afterwards."""
    from projections.db import engine_for

    try:
        engine = engine_for(settings)
    except ValueError as error:
        fail(str(error), URL_HINT, EXIT_CONFIG)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def open_store(settings: Settings) -> Iterator[tuple[Ledger, Engine]]:
    with open_ledger(settings) as ledger, open_engine(settings) as engine:
        yield ledger, engine


def bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def spinner(description: str) -> Iterator[None]:
    with Progress(
        SpinnerColumn(), TextColumn(description), TimeElapsedColumn(), console=err, transient=True
    ) as progress:
        progress.add_task(description, total=None)
        yield


@contextmanager
def position_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A bar fed by the projection runner's progress(position reached, head)."""
    with bar() as progress:
        task = progress.add_task(description, total=None)

        def advance(reached: int, head: int) -> None:
            progress.update(task, completed=reached, total=head)

        yield advance


def catch_up_with_progress(
    ledger: Ledger, engine: Engine, description: str = "bringing the projections up to date"
) -> int:
    from projections.runner import catch_up

    with position_bar(description) as advance:
        return catch_up(ledger, engine, progress=advance)


TIME_HELP = "ISO 8601 with a zone, or a date: 2026-11-15 means that whole day (up to 23:59:59.999999 in PERFLEDGER_TZ)"


def parse_time(value: str | None, option: str) -> datetime | None:
    """A time from the command line, or fail saying how to write one. An ISO 8601 time needs its
    zone; a plain date means the end of that day in the ledger's zone (its last microsecond), so
    that everything that happened that day counts."""
    if value is None:
        return None
    day = _plain_date(value)
    if day is not None:
        return datetime.combine(day, time.max, tzinfo=load_settings().tz)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"{option} {value!r} is not an ISO 8601 time",
            f"write it like {option} 2026-04-03T00:00:00+08:00, or {option} 2026-04-03 for that whole day",
            EXIT_CONFIG,
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        # the hint is the moment itself with the ledger's zone: a value that parses, never `value` + a suffix
        zoned = moment.replace(tzinfo=load_settings().tz).isoformat()
        fail(f"{option} {value} has no time zone", f"add one: {option} {zoned} (or Z for UTC)", EXIT_CONFIG)
    return moment


def _plain_date(value: str) -> date | None:
    if "T" in value or " " in value or len(value) > len("2026-11-15"):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_period_option(value: str) -> str:
    from ledger.periods import parse_period

    try:
        return str(parse_period(value))
    except ValueError as error:
        fail(
            str(error),
            "a period is 2026-03 (month), 2026-Q1 (quarter), 2026-W48 (ISO week) or 2026 (year)",
            EXIT_CONFIG,
        )


def actor(kind: str) -> str:
    """Who the ledger records as the author of a command's writes: `cli:USER`, `import:USER`."""
    try:
        return f"{kind}:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return f"{kind}:cli"
