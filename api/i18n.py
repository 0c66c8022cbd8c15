"""Languages and formats of every face: the CLI, the API's errors, statements, exports, the dashboard.

Two locales, `zh-CN` (the departments this is written for) and `en` (the default when nobody
asks: a server answers each reader in their own language). Which one:
- a request: its `Accept-Language` (the dashboard's switch sends it), else the configured one;
- a command: `--locale`, else the configured one;
- configured: PERFLEDGER_LOCALE (ledger/config.py), else en.

Texts are gettext catalogs (`api/locale/<ll_CC>/LC_MESSAGES/perfledger.po`, their msgids the
English texts, so `en` needs no catalog): the .po files are read and compiled in memory on first
use (a fresh clone needs no build step). `bin/i18n` extracts the marked texts (`_("…")`,
`N_("…")`, the ledger's `Msg(code, "…")`, the dashboard's `t("…")` and `data-i18n` elements)
and merges them into the catalogs; tests/test_i18n.py fails on any text without a translation.

Numbers, money, dates and compact figures come from Babel's CLDR data: ¥1,234.50, 12.3万, 1.2亿,
2026年12月3日 in zh-CN; CN¥1,234.50, 12.3K, 1.2B, December 3, 2026 in en.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from ledger.config import DEFAULT_LOCALE, SUPPORTED_LOCALES
from ledger.messages import Msg

DOMAIN = "perfledger"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LOCALE = "en"  # the language of the msgids
MAX_ACCEPT_LANGUAGE = 512  # characters of the header read: a longer one is cut, never refused


def N_(text: str) -> str:
    """Marks a text for the catalogs where it is defined; it is translated where it is shown."""
    return text


def babel_name(locale: str) -> str:
    """zh-CN → zh_CN: the catalogs' folder and Babel's spelling."""
    return locale.replace("-", "_")


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / babel_name(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The locale's catalog, compiled from its .po in memory (fuzzy entries are left out)."""
    if locale == SOURCE_LOCALE:
        return gettext_module.NullTranslations()
    with catalog_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=babel_name(locale), domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


@cache
def catalog_messages(locale: str) -> dict[str, str]:
    """Every translated text of the locale, msgid → msgstr (the dashboard's catalog)."""
    if locale == SOURCE_LOCALE:
        return {}
    with catalog_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=babel_name(locale), domain=DOMAIN)
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


# ---------------------------------------------------------------- choosing a locale


def supported(name: str | None) -> str | None:
    """`zh-cn`, `zh_CN`, `zh`, `zh-TW`, `en-US` → the supported locale they mean; None for the others."""
    if not name:
        return None
    wanted = name.strip().replace("_", "-").lower()
    for known in SUPPORTED_LOCALES:
        if known.lower() == wanted:
            return known
    language = wanted.split("-")[0]
    return next((known for known in SUPPORTED_LOCALES if known.lower().split("-")[0] == language), None)


def from_accept_language(header: str | None) -> str | None:
    """The best supported locale of an Accept-Language header (q-values honoured), or None."""
    if not header:
        return None
    weighted = []
    for position, part in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if name and name != "*" and quality > 0:
            weighted.append((-quality, position, name))
    for _, _, name in sorted(weighted):
        found = supported(name)
        if found:
            return found
    return None


def choose(*candidates: str | None) -> str:
    """The first supported of the candidates (a request's, an option's, the configured one), else en."""
    for candidate in candidates:
        found = supported(candidate)
        if found:
            return found
    return DEFAULT_LOCALE


# ---------------------------------------------------------------- a language at work


class Lang:
    """One locale's texts and formats: what a face needs to show anything to a person."""

    def __init__(self, locale: str):
        self.locale = choose(locale)
        self.babel = Locale.parse(babel_name(self.locale))
        self._translations = translations(self.locale)

    def __repr__(self) -> str:
        return f"Lang({self.locale!r})"

    # texts

    def _(self, text: str, /, **values: Any) -> str:
        """A catalog text, filled with `values` (str.format fields)."""
        translated = self._translations.gettext(text)
        return translated.format(**values) if values else translated

    def ngettext(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        translated = self._translations.ngettext(singular, plural, count)
        return translated.format(count=count, **values)

    def text(self, message: object) -> str:
        """A marked text (Msg) in this language, its values too; any other text as it is."""
        if not isinstance(message, Msg):
            return str(message)
        values = {name: self.text(value) if isinstance(value, Msg) else value for name, value in message.params.items()}
        translated = self._translations.gettext(message.template)
        try:
            return translated.format(**values) if values else translated
        except (KeyError, IndexError, ValueError):  # a translation that lost a field: the English still says it
            return str(message)

    # numbers

    def money(self, value: Decimal | None, currency: str) -> str:
        """¥1,234.50 (zh-CN), CN¥1,234.50 (en); None → "—"."""
        if value is None:
            return "—"
        return babel_numbers.format_currency(value, currency, locale=self.babel)

    def number(self, value: Decimal | int | None) -> str:
        if value is None:
            return "—"
        return babel_numbers.format_decimal(value, locale=self.babel, decimal_quantization=False)

    def percent(self, value: Decimal | None, digits: int = 1) -> str:
        """A ratio as a percentage: 0.2534 → 25.3%."""
        if value is None:
            return "—"
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return babel_numbers.format_percent(value, pattern, locale=self.babel)

    def compact(self, value: Decimal | int | None, digits: int = 1) -> str:
        """A figure for an axis or a card: 123456 → 12.3万, 123456789 → 1.2亿 (zh-CN); 123.5K, 123.5M (en)."""
        if value is None:
            return "—"
        return babel_numbers.format_compact_decimal(value, locale=self.babel, fraction_digits=digits)

    # dates and times

    def date(self, value: date | datetime | None, zone: tzinfo | None = None) -> str:
        """2026年12月3日 (zh-CN), December 3, 2026 (en)."""
        if value is None:
            return "—"
        if isinstance(value, datetime) and zone is not None:
            value = value.astimezone(zone)
        return babel_dates.format_date(value, format="long", locale=self.babel)

    def datetime(self, value: datetime | None, zone: tzinfo) -> str:
        """2026年12月3日 16:00:00 (zh-CN) in the given zone; the zone is stated once per screen."""
        if value is None:
            return "—"
        moment = value.astimezone(zone)
        return f"{self.date(moment)} {babel_dates.format_time(moment, format='HH:mm:ss', locale=self.babel)}"

    def zone_note(self, tz_name: str) -> str:
        """The sentence every screen and document carries: the one zone its times are in."""
        offset = babel_dates.get_timezone_gmt(datetime.now(_zone(tz_name)), locale=self.babel)
        return self._("Times are shown in {zone} ({offset}).", zone=tz_name, offset=offset)

    def catalog(self) -> Mapping[str, str]:
        return catalog_messages(self.locale)


def _zone(tz_name: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz_name)


@cache
def lang(locale: str | None = None) -> Lang:
    """The Lang of a locale (or of the configured default), made once."""
    return Lang(choose(locale))


# ---------------------------------------------------------------- extracting the dashboard page's texts


def extract(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Any:
    """Babel's extraction method for api/web/index.html: the text of every `data-i18n` element, and
    the attributes named in `data-i18n-attrs` (the page's app.js translates the same)."""
    from html.parser import HTMLParser

    found: list[tuple[int, str]] = []

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.open: list[tuple[str, int, list[str]] | None] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            line = self.getpos()[0]
            for name in (values.get("data-i18n-attrs") or "").split():
                if values.get(name):
                    found.append((line, str(values[name])))
            if tag in VOID_ELEMENTS:
                return
            self.open.append((tag, line, []) if "data-i18n" in values else None)

        def handle_endtag(self, tag: str) -> None:
            if tag in VOID_ELEMENTS or not self.open:
                return
            element = self.open.pop()
            if element is not None:
                text = " ".join("".join(element[2]).split())
                if text:
                    found.append((element[1], text))

        def handle_data(self, data: str) -> None:
            if self.open and self.open[-1] is not None:
                self.open[-1][2].append(data)

    Page().feed(fileobj.read().decode("utf-8"))
    for line, text in found:
        yield line, None, text, []


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
