"""The sheet-import benchmark at a small size: both files import, record the same events (the
harness checks it), and every figure is there and positive. No timing is asserted."""

from __future__ import annotations

import pytest

from benchmarks import import_sheet

# A benchmark run: left out of the fast lane (bin/test --fast).
pytestmark = pytest.mark.benchmark


def test_the_sheet_import_benchmark_records_the_same_events_from_the_xlsx_and_the_json_lines(tmp_path):
    figures = import_sheet.main(["--rows", "300", "--out", str(tmp_path / "figures.json")])
    for name in ("xlsx", "jsonl"):
        assert figures[name]["rows"] == 300
        assert all(figures[name][key] > 0 for key in ("read_s", "check_s", "record_s", "total_rows_per_s"))
    assert figures["xlsx_readers"]["calamine_s"] > 0 and figures["xlsx_readers"]["openpyxl_s"] > 0
    assert (tmp_path / "figures.json").read_text().startswith("{")
