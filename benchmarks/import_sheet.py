"""Importing a sheet as Chinese data arrives, beside the JSON lines of the same rows.

    .venv/bin/python -m benchmarks.import_sheet                 # 100,000 rows
    .venv/bin/python -m benchmarks.import_sheet --rows 20000 --out benchmarks/results/import-sheet.json

It writes N rows — activities (70%), deals opened (15%) and won (15%), with Chinese headers, words
(拜访记录, 电话…), dates without a zone (2026/03/02 10:00) and amounts like ¥12,345.50 — once as an
.xlsx and once as the JSON lines those rows map to, then times, for each file, into a fresh SQLite
store, exactly what `perfledger import` does:
- `read`: reading and mapping every row to an envelope (services.importing.read_source);
- `check`: the schemas and the ledger's rules over the whole file (nothing written);
- `record`: the atomic batches of 1,000;
- `total`: the three, as rows/s.
Beside them, how long the two .xlsx readers measured for the import take to read the sheet's rows
alone (python-calamine, which the import uses, and openpyxl's read-only mode). No figure is a
target; the JSON lines import is the reference the sheet is read against.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.store import Ledger
from services import importing
from services.sheets import Mapping_

HEADERS = ["类型", "单号", "日期", "负责人", "客户名称", "商机编号", "金额", "方式", "备注"]
MAPPING = {
    "type_column": "类型",
    "types": {"拜访记录": "ActivityLogged", "新建商机": "DealOpened", "成交": "DealWon"},
    "columns": {
        "event_id": "单号",
        "occurred_at": "日期",
        "activity_id": "单号",
        "rep_id": "负责人",
        "customer_id": "客户名称",
        "deal_id": "商机编号",
        "amount": "金额",
        "expected_amount": "金额",
        "kind": "方式",
        "notes": "备注",
    },
}
KINDS = [("电话", "call"), ("拜访", "visit"), ("邮件", "email"), ("会议", "meeting")]
REPS = 50
ZONE = "+08:00"
START = datetime(2026, 3, 1, 9, 0)  # Beijing time, as the sheet writes it (no zone)


def rows_and_events(count: int) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """The sheet's rows and, for each, the envelope it must become (the JSON lines of the same rows):
    of every 20 rows, one opens a deal, one wins it, the others are activities; a row a minute."""
    rows: list[list[Any]] = []
    events: list[dict[str, Any]] = []
    for n in range(count):
        rep, customer, deal = f"R-{n % REPS:03d}", f"客户{n % 997}", f"D-{n // 20}"
        moment = START + timedelta(minutes=n)
        when, iso = moment.strftime("%Y/%m/%d %H:%M"), moment.strftime("%Y-%m-%dT%H:%M:00") + ZONE
        if n % 20 == 0:
            rows.append(["新建商机", f"O-{n}", when, rep, customer, deal, "¥25,000.00", "", ""])
            data: dict[str, Any] = {
                "deal_id": deal,
                "rep_id": rep,
                "customer_id": customer,
                "expected_amount": "25000.00",
            }
            events.append({"type": "DealOpened", "event_id": f"O-{n}", "occurred_at": iso, "data": data})
        elif n % 20 == 10:
            amount = 10_000 + n % 9000
            rows.append(["成交", f"W-{n}", when, "", "", deal, f"¥{amount:,}.50", "", ""])
            events.append({"type": "DealWon", "event_id": f"W-{n}", "occurred_at": iso,
                           "data": {"deal_id": deal, "amount": f"{amount}.50"}})  # fmt: skip
        else:
            word, kind = KINDS[n % len(KINDS)]
            rows.append(["拜访记录", f"A-{n}", when, rep, customer, deal, "", word, "首次拜访，客户有兴趣"])
            data = {"activity_id": f"A-{n}", "rep_id": rep, "kind": kind, "customer_id": customer, "deal_id": deal,
                    "notes": "首次拜访，客户有兴趣"}  # fmt: skip
            events.append({"type": "ActivityLogged", "event_id": f"A-{n}", "occurred_at": iso, "data": data})
    return rows, events


def write_files(folder: Path, count: int) -> tuple[Path, Path, Path]:
    from openpyxl import Workbook

    rows, events = rows_and_events(count)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("销售记录")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    xlsx = folder / "销售记录.xlsx"
    book.save(xlsx)
    jsonl = folder / "same.jsonl"
    jsonl.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    seed = folder / "reps.jsonl"
    seed.write_text(
        "".join(
            json.dumps({"type": "RepOnboarded", "event_id": f"E-{r}", "occurred_at": f"2026-01-01T09:00:00{ZONE}",
                        "data": {"rep_id": f"R-{r:03d}", "name": f"销售{r}", "team_id": "华东一组", "region": "华东"}},
                       ensure_ascii=False) + "\n"
            for r in range(REPS)
        ),
        encoding="utf-8",
    )  # fmt: skip
    return xlsx, jsonl, seed


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def import_file(folder: Path, name: str, file: Path, seed: Path, mapping: Mapping_ | None) -> dict[str, Any]:
    settings = Settings(database_url=f"sqlite:///{folder}/{name}.db", tz_name="Asia/Shanghai", locale="en")
    ledger = Ledger(settings)
    try:
        seeded = importing.read_source(seed)
        importing.record_lines(ledger, seeded, batch=1000, actor="bench", skip_invalid=False)
        lines, read = timed(lambda: importing.read_source(file, mapping=mapping, zone=settings.tz))

        def check() -> None:
            importing.check_schemas(lines, settings.currency)
            importing.check_rules(ledger, lines, until_clean=False)

        _, checked = timed(check)
        bad = importing.invalid(lines)
        assert not bad, [(line.line, line.errors) for line in bad[:3]]
        outcome, recorded = timed(
            lambda: importing.record_lines(ledger, lines, batch=1000, actor="bench", skip_invalid=False)
        )
        assert outcome.recorded == len(lines)
        log = [(r.type, r.event_id, r.occurred_at, r.data) for r in ledger.read_log()[len(seeded) :]]
    finally:
        ledger.close()
    rows = len(lines)
    total = read + checked + recorded
    return {
        "rows": rows,
        "read_s": round(read, 3),
        "check_s": round(checked, 3),
        "record_s": round(recorded, 3),
        "total_s": round(total, 3),
        "read_rows_per_s": round(rows / read),
        "total_rows_per_s": round(rows / total),
        "_log": log,
    }


def reader_times(xlsx: Path) -> dict[str, float]:
    """Reading the sheet's rows alone: python-calamine (the import's reader) and openpyxl read-only."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    def calamine() -> int:
        return sum(1 for _ in CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).iter_rows())

    def openpyxl_read_only() -> int:
        book = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
        try:
            return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()

    return {
        name: round(timed(read)[1], 3) for name, read in (("calamine_s", calamine), ("openpyxl_s", openpyxl_read_only))
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="perfledger-import-"))
    try:
        print(f"writing {args.rows:,} rows as .xlsx and as JSON lines …", flush=True)
        xlsx, jsonl, seed = write_files(folder, args.rows)
        readers = reader_times(xlsx)
        print(f"read the sheet alone: calamine {readers['calamine_s']} s, openpyxl read-only {readers['openpyxl_s']} s")
        sheet = import_file(folder, "xlsx", xlsx, seed, Mapping_.parse(MAPPING, "bench"))
        lines = import_file(folder, "jsonl", jsonl, seed, None)
        assert sheet.pop("_log") == lines.pop("_log"), "the sheet and the JSON lines recorded different events"
        figures = {
            "rows": args.rows,
            "xlsx": sheet,
            "jsonl": lines,
            "xlsx_vs_jsonl_total": round(sheet["total_rows_per_s"] / lines["total_rows_per_s"], 3),
            "xlsx_readers": readers,
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("xlsx", "jsonl"):
        f = figures[name]
        print(
            f"{name:6} read {f['read_s']:7.2f} s  check {f['check_s']:6.2f} s  record {f['record_s']:6.2f} s  "
            f"→ {f['total_rows_per_s']:,} rows/s (reading alone {f['read_rows_per_s']:,} rows/s)"
        )
    print(f"xlsx / jsonl: {figures['xlsx_vs_jsonl_total']} ×; the same events recorded from both")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
