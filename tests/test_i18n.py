"""Languages: every marked text has its zh-CN translation (the catalog check CI runs), the formats
come from CLDR (¥1,234.50, 12.3万, 1.2亿, 2026年12月3日), the reader's language is chosen by
Accept-Language or configuration, and the API's errors keep their machine code in both."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from api.i18n import Lang, catalog_path, choose, from_accept_language
from ledger.config import ConfigError, settings_from_env
from ledger.messages import Msg

ROOT = Path(__file__).resolve().parents[1]
FIELD = re.compile(r"\{[^{}]*\}")


def catalog(locale: str):
    with catalog_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale.replace("-", "_"))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """The texts marked in the code today (bin/i18n's own extraction, into a scratch file)."""
    pot = tmp_path_factory.mktemp("i18n") / "perfledger.pot"
    subprocess.run(["bash", "bin/i18n"], cwd=ROOT, env={**os.environ, "POT": str(pot)}, check=True, capture_output=True)
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_every_marked_text_has_a_chinese_translation_that_is_not_fuzzy(extracted):
    entries = {m.id: m for m in catalog("zh-CN") if m.id}
    missing = sorted(text for text in extracted if text not in entries)
    untranslated = sorted(text for text in extracted if text in entries and not entries[text].string)
    fuzzy = sorted(text for text in extracted if text in entries and entries[text].fuzzy)
    assert missing == [], "run bin/i18n, then translate the new entries of the zh_CN catalog"
    assert untranslated == [] and fuzzy == []


def test_each_translation_fills_only_fields_its_text_has(extracted):
    for message in catalog("zh-CN"):
        if message.id in extracted and isinstance(message.id, str):
            assert set(FIELD.findall(message.string)) <= set(FIELD.findall(message.id)), message.id


def test_a_chinese_translation_reads_as_chinese_not_as_the_english_left_in_place(extracted):
    english_left = [
        m.id
        for m in catalog("zh-CN")
        if m.id in extracted and m.string == m.id and re.search(r"[A-Za-z]{3,}", FIELD.sub("", m.id))
    ]
    assert english_left == []


def test_money_is_written_with_the_yuan_sign_and_thousands_separators():
    assert Lang("zh-CN").money(Decimal("1234.5"), "CNY") == "¥1,234.50"
    assert Lang("en").money(Decimal("1234567.5"), "CNY") == "CN¥1,234,567.50"


def test_compact_figures_count_in_wan_and_yi_in_chinese():
    zh = Lang("zh-CN")
    assert zh.compact(Decimal("123456")) == "12.3万"
    assert zh.compact(Decimal("123456789")) == "1.2亿"
    assert Lang("en").compact(Decimal("4000000")) == "4M"


def test_dates_are_written_as_the_locale_writes_them_in_the_ledgers_zone():
    zh, en = Lang("zh-CN"), Lang("en")
    assert zh.date(date(2026, 12, 3)) == "2026年12月3日"
    assert en.date(date(2026, 12, 3)) == "December 3, 2026"
    late_utc = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)  # 1 April 01:30 in Shanghai
    assert zh.datetime(late_utc, ZoneInfo("Asia/Shanghai")) == "2026年4月1日 01:30:00"
    assert "Asia/Shanghai" in zh.zone_note("Asia/Shanghai") and "GMT+08:00" in zh.zone_note("Asia/Shanghai")


def test_percentages_keep_one_decimal():
    assert Lang("zh-CN").percent(Decimal("0.2534")) == "25.3%"


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),  # French is not offered: the next best, by weight
        ("zh", "zh-CN"),
        ("de", None),
        ("", None),
    ],
)
def test_the_readers_language_comes_from_accept_language_by_weight(header, chosen):
    assert from_accept_language(header) == chosen


def test_without_a_choice_the_configured_locale_speaks_and_en_is_the_default():
    assert choose(None, "zh-CN") == "zh-CN"
    assert choose("en-GB", "zh-CN") == "en"
    assert choose("zh-Hans-CN,zh;q=0.9", None) == "zh-CN"
    assert choose(None, None) == "en"
    assert settings_from_env({}).locale == "en"
    assert settings_from_env({"PERFLEDGER_LOCALE": "zh_cn"}).locale == "zh-CN"
    with pytest.raises(ConfigError, match="PERFLEDGER_LOCALE"):
        settings_from_env({"PERFLEDGER_LOCALE": "fr"})


def test_a_marked_text_is_its_english_and_translates_with_its_values():
    text = Msg("rep.unknown", "unknown rep {rep_id}: record RepOnboarded for them first", rep_id="R-9")
    assert text == "unknown rep R-9: record RepOnboarded for them first"
    assert Lang("zh-CN").text(text) == "未知的销售代表 R-9：请先记录其入职（RepOnboarded）"
    assert Lang("en").text(text) == text


def test_the_apis_errors_speak_the_readers_language_beside_a_stable_code(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import create_token
    from ledger.config import Settings
    from projections.db import engine_for

    settings = Settings(database_url=f"sqlite:///{tmp_path}/l.db", locale="en")
    engine = engine_for(settings)
    from api.auth import ensure_tables

    ensure_tables(engine)
    secret = create_token(engine, "admin")[0]
    engine.dispose()
    batch = {"events": [{"type": "DealWon", "occurred_at": "2026-03-01T10:00:00+08:00",
                         "data": {"deal_id": "D-404", "amount": "10.00"}}]}  # fmt: skip
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {secret}"}
        zh = client.post("/events", json=batch, headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9"}).json()
        en = client.post("/events", json=batch, headers=auth).json()
        nobody = client.get("/kpis?period=2026-Q1", headers={"Accept-Language": "zh-CN"})
    assert zh["detail"][0]["code"] == en["detail"][0]["code"] == "deal.unknown"
    assert zh["detail"][0]["message"] == "未知的商机 D-404：请先记录 DealOpened（新建商机）"
    assert en["detail"][0]["message"] == "unknown deal D-404: record DealOpened first"
    assert nobody.status_code == 401
    assert nobody.json()["code"] == "token.missing" and "缺少令牌" in nobody.json()["detail"]
