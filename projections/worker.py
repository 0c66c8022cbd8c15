"""The projection worker: keep every projection caught up with the log until told to stop.

`follow(ledger, engine, stop_event)` catches up, then waits for new events and catches up again:
- PostgreSQL: LISTEN on the event store's channel (the library NOTIFYs in every inserting
  transaction, so a notification arrives after the events and their ledger entries are
  committed). A notification is only a wake-up: positions come from `ledger_entries`, and
  `catch_up` reads them. The head is also checked every `poll` seconds, in case a notification
  is lost (a dropped connection is re-opened on the next wait).
- SQLite: poll `ledger.head()`, backing off from 10 ms to `poll` seconds while the log is idle.

Several workers (and API processes folding in-request) may run at once: `catch_up` moves each
tracked position with a compare-and-set, so a batch is applied exactly once. A crash anywhere
rolls back the batch in progress; the next run redoes exactly that batch.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError as SqlInterfaceError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from ledger.store import Ledger
from projections.runner import DEFAULT_BATCH, catch_up, projected_position

log = logging.getLogger("perfledger.projections.worker")

FIRST_DELAY = 0.01  # seconds: the SQLite poll right after new events
WAIT_SLICE = 0.25  # seconds: how often a PostgreSQL wait looks at the stop event


# "The database is busy or away for a moment" (a lock or pool time-out, a lost connection, a
# restart), as eventsourcing and SQLAlchemy wrap the drivers' errors: back off and retry. Any
# other error is a bug and stops the worker (a supervisor restarts it; nothing is half-applied).
TRANSIENT_ERRORS = (StoreOperationalError, StoreInterfaceError, SqlOperationalError, SqlInterfaceError)


class Wakeups(Protocol):
    def start(self) -> None:
        """Begin listening (before the first catch-up, so nothing committed after it is missed)."""

    def seen(self, position: int) -> None:
        """The projections have reached `position`."""

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True as soon as the log may have new events."""

    def close(self) -> None: ...


class Backoff:
    """Delays that double from `first` to `most` while nothing happens, and reset when something does."""

    def __init__(self, first: float = FIRST_DELAY, most: float = 1.0):
        self.first, self.most = first, max(first, most)
        self.delay = first

    def idle(self) -> float:
        """The delay to wait now; the next one is twice as long (up to `most`)."""
        delay = self.delay
        self.delay = min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


class HeadPolling:
    """SQLite (or any store): has the head moved past what we have applied? Ask, backing off."""

    def __init__(self, ledger: Ledger, stop_event: threading.Event, poll: float):
        self.ledger, self.stop_event = ledger, stop_event
        self.backoff = Backoff(most=poll)
        self.reached = 0

    def start(self) -> None:
        pass

    def seen(self, position: int) -> None:
        self.reached = position

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.stop_event.is_set():
            if self.ledger.head().position > self.reached:
                self.backoff.reset()
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.stop_event.wait(min(self.backoff.idle(), remaining))
        return False

    def close(self) -> None:
        pass


class PostgresNotifications:
    """LISTEN on the event store's channel on a connection of its own (autocommit)."""

    def __init__(self, ledger: Ledger, stop_event: threading.Event):
        self.ledger, self.stop_event = ledger, stop_event
        self.channel: str = ledger.recorder.channel_name
        self.conn: Any = None

    def start(self) -> None:
        import psycopg

        try:
            self.connect()
        except psycopg.Error as error:  # the safety-net poll covers for it; wait() retries the connection
            log.warning("cannot LISTEN yet (%s); polling until it works", error)
            self.close()

    def seen(self, position: int) -> None:
        pass

    def connect(self) -> None:
        import psycopg
        from psycopg.sql import SQL, Identifier

        params = {k: v for k, v in self.ledger.recorder.datastore.pool.kwargs.items() if k != "row_factory"}
        self.conn = psycopg.connect(autocommit=True, connect_timeout=5, **params)
        self.conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel)))
        log.info("listening for new events on channel %s", self.channel)

    def wait(self, timeout: float) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while not self.stop_event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                if self.conn is None:
                    self.connect()
                if self._notified(min(WAIT_SLICE, remaining)):
                    return True
            except psycopg.Error as error:
                log.warning("lost the LISTEN connection (%s); polling until it is back", error)
                self.close()
                self.stop_event.wait(min(1.0, max(remaining, 0)))
                return True  # look at the head anyway: a notification may have been missed
        return False

    def _notified(self, timeout: float) -> bool:
        notified = False
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            notified = True
        if notified:
            for _ in self.conn.notifies(timeout=0.001):  # one catch-up serves every queued one (0 would block)
                pass
        return notified

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def wakeups_for(ledger: Ledger, stop_event: threading.Event, poll: float) -> Wakeups:
    if ledger.is_postgres:
        return PostgresNotifications(ledger, stop_event)
    return HeadPolling(ledger, stop_event, poll)


def follow(
    ledger: Ledger,
    engine: Engine,
    stop_event: threading.Event,
    poll: float = 1.0,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_caught_up: Callable[[int], None] | None = None,
) -> int:
    """Catch up, then keep catching up as events arrive, until `stop_event` is set.

    `poll`: the longest wait between looks at the head (SQLite's back-off ceiling; PostgreSQL's
    safety net behind LISTEN). `on_caught_up(position)` is called after every catch-up.
    Returns the position every projection had reached when the worker stopped.
    """
    wakeups = wakeups_for(ledger, stop_event, poll)
    reached: int | None = projected_position_or_zero(engine)
    log.info(
        "projection worker started at position %d (%s)", reached, "LISTEN/NOTIFY" if ledger.is_postgres else "polling"
    )
    report = ProgressReport(reached or 0)
    try:
        wakeups.start()
        retry = Backoff(first=0.1, most=max(poll, 1.0))
        while not stop_event.is_set():
            reached = caught_up_or_none(ledger, engine, batch_size, report)
            if reached is None:
                stop_event.wait(retry.idle())
                reached = projected_position_or_zero(engine)
                continue
            retry.reset()
            wakeups.seen(reached)
            if on_caught_up is not None:
                on_caught_up(reached)
            wait_for_news(wakeups, poll)
    finally:
        wakeups.close()
    if report.events:
        report.report()
    log.info("projection worker stopped at position %d", reached or 0)
    return reached or 0


def wait_for_news(wakeups: Wakeups, poll: float) -> None:
    try:
        wakeups.wait(poll)
    except TRANSIENT_ERRORS as error:  # the head could not be read: let the catch-up find out
        log.warning("cannot look at the head of the log: %s", error)


def caught_up_or_none(ledger: Ledger, engine: Engine, batch_size: int, report: ProgressReport) -> int | None:
    """One catch-up, reported; None when the database was unavailable (the caller backs off)."""
    started = time.monotonic()
    try:
        reached = catch_up(ledger, engine, batch_size=batch_size, progress=_log_progress)
    except TRANSIENT_ERRORS as error:
        log.warning("catch-up interrupted, will retry: %s", error)
        return None
    report.caught_up(reached, time.monotonic() - started)
    return reached


class ProgressReport:
    """An INFO line at most every `every` seconds (a busy log is caught up many times a second)."""

    def __init__(self, position: int, every: float = 10.0):
        self.position, self.every = position, every
        self.reported_at, self.events, self.busy = time.monotonic(), 0, 0.0

    def caught_up(self, reached: int, seconds: float) -> None:
        self.events += max(0, reached - self.position)
        self.busy += seconds
        self.position = reached
        if self.events and time.monotonic() - self.reported_at >= self.every:
            self.report()

    def report(self) -> None:
        log.info(
            "caught up to position %d: %d events applied in the last %.0f s (%.2f s of work)",
            self.position,
            self.events,
            time.monotonic() - self.reported_at,
            self.busy,
        )
        self.reported_at, self.events, self.busy = time.monotonic(), 0, 0.0


def projected_position_or_zero(engine: Engine) -> int:
    try:
        return projected_position(engine)
    except TRANSIENT_ERRORS:
        return 0


def _log_progress(position: int, head: int) -> None:
    log.debug("projections at position %d of %d", position, head)


@contextmanager
def stop_on_signals(
    stop_event: threading.Event, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[threading.Event]:
    """Set `stop_event` on SIGTERM/SIGINT (main thread only) for the duration; restore the old handlers."""

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping after the current batch", signal.Signals(signum).name)
        stop_event.set()

    previous = {s: signal.signal(s, request_stop) for s in signals}
    try:
        yield stop_event
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
