"""Configuration by environment: where the ledger lives, its time zone, its currency and the
language its faces speak by default."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    # How long each kind of personal data is kept after a rep leaves (ledger/retention.py).
    retention: str = DEFAULT_POLICY
    # "Now" for every default cut-off and every recording: the system's clock, or a fixed one in tests.
    clock: Callable[[], datetime] = field(default=system_clock, compare=False, repr=False)

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
        retention=retention,
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
