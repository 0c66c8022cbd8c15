"""Configuration by environment: where the ledger lives, its time zone and its currency."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///perfledger.db"


class ConfigError(ValueError):
    """A setting in the environment cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    tz_name: str = "UTC"
    currency: str = "CNY"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)


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
    return Settings(
        database_url=env.get("PERFLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL,
        tz_name=tz_name,
        currency=currency,
    )
