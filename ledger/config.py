"""Configuration by environment: where the ledger lives, its time zone, its currency and the
language its faces speak by default."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.retention import DEFAULT_POLICY, parse_policy

DEFAULT_DATABASE_URL = "sqlite:///perfledger.db"
# The faces' languages (api/i18n.py); Chinese first: the departments this is written for.
SUPPORTED_LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = (
    "en"  # like PERFLEDGER_TZ=UTC: a reader asks for zh-CN (Accept-Language, --locale) or a department sets it
)


DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of writers and of the ledger drift apart a little


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PinnedClock:
    """A clock that always gives one moment: a long computation's single "now" (a replay's, which
    its worker processes receive pickled), so every default cut-off in it is the same."""

    moment: datetime

    def __call__(self) -> datetime:
        return self.moment


class ConfigError(ValueError):
    """A setting in the environment cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    tz_name: str = "UTC"
    currency: str = "CNY"
    # A face's language when the reader asks for none (a request without Accept-Language, a command
    # without --locale): PERFLEDGER_LOCALE's, else en.
    locale: str = field(default_factory=lambda: configured_locale(os.environ))
    # How far after its recording a fact may say it happened (PERFLEDGER_FUTURE_TOLERANCE, seconds).
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE
    # No fact before this day (read in the ledger's zone): PERFLEDGER_START's, else 2000-01-01.
    start: date = field(default_factory=lambda: configured_start(os.environ))
    # How many days back a token's role may date a fact (None: no limit): PERFLEDGER_BACKDATING's.
    backdating: tuple[tuple[str, int | None], ...] = field(default_factory=lambda: configured_backdating(os.environ))
    # A rep's self-reported activities: at most `batch` per request and `day` per 24 hours.
    activity_limits: tuple[int, int] = field(default_factory=lambda: configured_activity_limits(os.environ))

    def backdating_days(self, role: str) -> int | None:
        return dict(self.backdating).get(role)

    # How long each kind of personal data is kept after a rep leaves (ledger/retention.py).
    retention: str = DEFAULT_POLICY
    # "Now" for every default cut-off and every recording: the system's clock, or a fixed one in tests.
    clock: Callable[[], datetime] = field(default=system_clock, compare=False, repr=False)
    # PostgreSQL connections per process (PERFLEDGER_PG_POOL, "read=4,ledger=2"): each pool opens
    # its size and as many again under load (docs/architecture.md, "Connections").
    pg_pool: tuple[int, int] = field(default_factory=lambda: configured_pg_pool(os.environ))
    # A second database the read side reads from (a streaming replica): PERFLEDGER_READ_DATABASE_URL's.
    read_database_url: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def now(self) -> datetime:
        return self.clock()


def settings_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    tz_name = env.get("PERFLEDGER_TZ", "UTC") or "UTC"
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"PERFLEDGER_TZ={tz_name!r} is not a known IANA time zone (try 'UTC' or 'Asia/Shanghai')"
        ) from None
    currency = (env.get("PERFLEDGER_CURRENCY", "CNY") or "CNY").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ConfigError(f"PERFLEDGER_CURRENCY={currency!r} is not an ISO 4217 code such as CNY")
    retention = env.get("PERFLEDGER_RETENTION") or DEFAULT_POLICY
    try:
        parse_policy(retention)
    except ValueError as error:
        raise ConfigError(f"PERFLEDGER_RETENTION={retention!r}: {error}") from None
    return Settings(
        database_url=env.get("PERFLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL,
        tz_name=tz_name,
        currency=currency,
        locale=configured_locale(env),
        future_tolerance=configured_tolerance(env),
        start=configured_start(env),
        backdating=configured_backdating(env),
        activity_limits=configured_activity_limits(env),
        retention=retention,
        pg_pool=configured_pg_pool(env),
        read_database_url=(env.get("PERFLEDGER_READ_DATABASE_URL") or "").strip() or None,
    )


def configured_tolerance(env: os._Environ[str] | dict[str, str]) -> timedelta:
    value = (env.get("PERFLEDGER_FUTURE_TOLERANCE") or "").strip()
    if not value:
        return DEFAULT_FUTURE_TOLERANCE
    if not value.isdigit() or int(value) > 86_400:
        raise ConfigError(
            f"PERFLEDGER_FUTURE_TOLERANCE={value!r} is not a number of seconds from 0 to 86400 (default 300)"
        )
    return timedelta(seconds=int(value))


def configured_locale(env: os._Environ[str] | dict[str, str]) -> str:
    value = (env.get("PERFLEDGER_LOCALE") or DEFAULT_LOCALE).strip()
    for known in SUPPORTED_LOCALES:
        if value.replace("_", "-").lower() == known.lower():
            return known
    raise ConfigError(f"PERFLEDGER_LOCALE={value!r} is not a supported locale: use {' or '.join(SUPPORTED_LOCALES)}")


DEFAULT_START = date(2000, 1, 1)
# Reps date their calls within a few days, managers their team's facts within a quarter;
# finance and admin (who also correct the past) have no window. Closed periods take no new facts
# from anyone (see services/bounds.py).
DEFAULT_BACKDATING = "rep=7,manager=90,director=90"
DEFAULT_ACTIVITY_LIMITS = "batch=100,day=500"


def configured_start(env: os._Environ[str] | dict[str, str]) -> date:
    value = (env.get("PERFLEDGER_START") or "").strip()
    if not value:
        return DEFAULT_START
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"PERFLEDGER_START={value!r} is not a date: use YYYY-MM-DD, e.g. 2024-01-01") from None


def configured_backdating(env: os._Environ[str] | dict[str, str]) -> tuple[tuple[str, int | None], ...]:
    """`rep=7,manager=90`: days back each role may date a fact; a role not named has no window;
    `off`: no window for anyone."""
    value = (env.get("PERFLEDGER_BACKDATING") or DEFAULT_BACKDATING).strip()
    if value == "off":
        return ()
    return tuple((role, days) for role, days in _pairs("PERFLEDGER_BACKDATING", value, "rep=7,manager=90").items())


def configured_activity_limits(env: os._Environ[str] | dict[str, str]) -> tuple[int, int]:
    value = (env.get("PERFLEDGER_ACTIVITY_LIMITS") or DEFAULT_ACTIVITY_LIMITS).strip()
    pairs = {
        **_pairs("PERFLEDGER_ACTIVITY_LIMITS", DEFAULT_ACTIVITY_LIMITS, ""),
        **_pairs("PERFLEDGER_ACTIVITY_LIMITS", value, DEFAULT_ACTIVITY_LIMITS),
    }
    if set(pairs) != {"batch", "day"}:
        raise ConfigError(f"PERFLEDGER_ACTIVITY_LIMITS={value!r}: name batch and day, e.g. {DEFAULT_ACTIVITY_LIMITS}")
    return pairs["batch"], pairs["day"]


DEFAULT_PG_POOL = "read=4,ledger=2"


def configured_pg_pool(env: os._Environ[str] | dict[str, str]) -> tuple[int, int]:
    """(read, ledger): the pool sizes of the read side's engine and of the ledger's store on
    PostgreSQL, per process (each may open as many again under load)."""
    value = (env.get("PERFLEDGER_PG_POOL") or DEFAULT_PG_POOL).strip()
    pairs = {
        **_pairs("PERFLEDGER_PG_POOL", DEFAULT_PG_POOL, ""),
        **_pairs("PERFLEDGER_PG_POOL", value, DEFAULT_PG_POOL),
    }
    if set(pairs) != {"read", "ledger"} or max(pairs.values()) > 50:
        raise ConfigError(f"PERFLEDGER_PG_POOL={value!r}: name read and ledger, each 1 to 50, e.g. {DEFAULT_PG_POOL}")
    return pairs["read"], pairs["ledger"]


def _pairs(variable: str, value: str, example: str) -> dict[str, int]:
    pairs = {}
    for part in value.split(","):
        key, _, number = part.partition("=")
        if not key.strip() or not number.strip().isdigit() or int(number) < 1:
            raise ConfigError(f"{variable}={value!r}: write name=number pairs of positive numbers, e.g. {example}")
        pairs[key.strip()] = int(number)
    return pairs
