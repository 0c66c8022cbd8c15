"""Sheets into envelopes: a CSV (UTF-8 with or without BOM, or GB18030/GBK as Excel writes it on
Chinese Windows) or an .xlsx workbook, each row mapped to one event by a mapping (a CRM export's
own columns by default, or the user's headers through `--mapping FILE`).

What a cell may look like, and what it becomes:
- amounts: `¥12,345.50`, `12345.5`, `1,200 元`, an Excel number → "12345.50";
- times: ISO 8601 with an offset as it is; without one (`2026/11/28 16:00`, `2026-11-28`,
  `2026年11月28日`, `2026年11月28日 16:00`, an Excel date) read in PERFLEDGER_TZ;
- kinds and other closed lists: their Chinese words (电话 → call, 拜访 → visit, 邮件 → email,
  会议 → meeting …) and any the mapping adds; yes/no: 是/否, yes/no, true/false, 1/0;
- lists: one item a line or separated by ；/;  pairs (splits, process scores): `R-1:0.6; R-2:0.4`;
  any list or object also as JSON;
- ids that Excel stored as numbers (10023.0) → "10023".

The mapping file (JSON, or TOML when it ends in .toml) — every key optional but a type:

    sheet = "成交记录"              # .xlsx: the sheet to read (default: the first)
    type = "DealWon"               # every row is this event type, or
    type_column = "类型"           # the column naming each row's type, with
    [types]                        # what its values mean (event type names are known already)
    "成交" = "DealWon"
    [columns]                      # envelope and data fields ← the sheet's headers
    event_id = "单号"
    occurred_at = "成交日期"
    deal_id = "商机编号"
    amount = "成交金额"
    "scope.rep" = "负责人"          # a field inside an object field
    [values.kind]                  # a field's words → the ledger's
    "电联" = "call"
    [fixed]                        # data fields every row gets
    metric = "revenue"

A data field is filled for a row only when the row's event type has it (one column may feed
`amount` of DealWon and `expected_amount` of DealOpened: name it for both). Headers match
ignoring case, spaces, hyphens and underscores.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from ledger.messages import Msg
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES

SHEET_SUFFIXES = (".csv", ".xlsx", ".xlsm")
ENCODINGS = ("utf-8", "gb18030")  # tried in this order when the file has no BOM (GB18030 ⊃ GBK ⊃ GB2312)
PREVIEW_ROWS = 10

# ---------------------------------------------------------------- words the ledger knows

KIND_WORDS = {
    # ActivityLogged.kind
    "phone": "call",
    "phone_call": "call",
    "e-mail": "email",
    "mail": "email",
    "onsite": "visit",
    "video_call": "meeting",
    "presentation": "demo",
    "电话": "call",
    "致电": "call",
    "拜访": "visit",
    "上门": "visit",
    "邮件": "email",
    "电子邮件": "email",
    "会议": "meeting",
    "视频会议": "meeting",
    "演示": "demo",
    "产品演示": "demo",
    "其他": "other",
}
FEEDBACK_WORDS = {"表扬": "recognition", "认可": "recognition", "改进": "improvement", "辅导": "coaching"}
OUTCOME_WORDS = {"接受": "accepted", "采纳": "accepted", "驳回": "rejected", "拒绝": "rejected"}
METRIC_WORDS = {
    "业绩": "revenue",
    "销售额": "revenue",
    "订单数": "orders",
    "新客户数": "new_customers",
    "客单价": "avg_order_value",
    "转化率": "conversion_rate",
    "赢单率": "win_rate",
    "活动数": "activities",
}
YES = {"yes", "y", "true", "1", "是", "有", "已回复", "√"}
NO = {"no", "n", "false", "0", "否", "无", "未回复", "×"}
# A CRM's words for the event types (the types' own names are known too).
TYPE_WORDS = {
    "deal_opened": "DealOpened",
    "opportunity_created": "DealOpened",
    "deal_created": "DealOpened",
    "deal_won": "DealWon",
    "closed_won": "DealWon",
    "won": "DealWon",
    "deal_lost": "DealLost",
    "closed_lost": "DealLost",
    "lost": "DealLost",
    "activity": "ActivityLogged",
    "activity_logged": "ActivityLogged",
    "新建商机": "DealOpened",
    "商机": "DealOpened",
    "赢单": "DealWon",
    "成交": "DealWon",
    "输单": "DealLost",
    "丢单": "DealLost",
    "活动": "ActivityLogged",
    "跟进记录": "ActivityLogged",
    "退款": "DealRefunded",
    "目标": "TargetSet",
    "线索": "LeadCreated",
    "入职": "RepOnboarded",
    "调岗": "RepTransferred",
    "离职": "RepOffboarded",
    "考评": "EvaluationRecorded",
    "业绩分成": "DealCreditSplit",
}
VALUE_WORDS = {"kind": KIND_WORDS, "outcome": OUTCOME_WORDS, "metric": METRIC_WORDS}
TYPE_VALUE_WORDS = {("FeedbackGiven", "kind"): FEEDBACK_WORDS}

# A CRM export's own columns (IMPORT_HELP), the mapping used when no --mapping is given.
CRM_MAPPING: dict[str, Any] = {
    "type_column": "record_type",
    "required": ["record_type", "external_id", "date"],
    "columns": {
        "event_id": "external_id",
        "occurred_at": "date",
        "activity_id": "external_id",
        "deal_id": "deal",
        "rep_id": "rep",
        "customer_id": "customer",
        "lead_id": "lead",
        "amount": "amount",
        "expected_amount": "amount",
        "currency": "currency",
        "kind": "kind",
        "replied": "replied",
        "reason": "reason",
        "notes": "notes",
    },
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (missing columns, unreadable, a bad mapping)."""


# ---------------------------------------------------------------- the mapping


@dataclass
class Mapping_:
    """A mapping file, read and checked: which event each row becomes, and from which columns."""

    columns: dict[str, str]  # envelope or data field (dotted for nested) → header, normalised
    type: str | None = None
    type_column: str | None = None
    types: dict[str, str] = field(default_factory=dict)  # a type column's words (normalised) → event type
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field → {word: value}
    fixed: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    required: list[str] = field(default_factory=list)  # headers the sheet must have
    _plans: dict[str, list[tuple[str, str, str, dict[str, str]]]] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, document: Any, where: str) -> Mapping_:
        if not isinstance(document, dict):
            raise ImportFileError(Msg("mapping.not_object", "{file}: a mapping is an object of keys", file=where))
        known = {"sheet", "type", "type_column", "types", "columns", "values", "fixed", "required"}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ImportFileError(
                Msg(
                    "mapping.unknown_key",
                    "{file}: unknown key(s) {keys}; a mapping has {known}",
                    file=where,
                    keys=", ".join(unknown),
                    known=", ".join(sorted(known)),
                )
            )
        event_type = document.get("type")
        if event_type is not None and not importable(event_type):
            raise ImportFileError(_unknown_type(where, event_type))
        if event_type is None and not document.get("type_column"):
            raise ImportFileError(
                Msg(
                    "mapping.no_type",
                    "{file}: give `type` (one event type) or `type_column` (a column naming it)",
                    file=where,
                )
            )
        types_ = {}
        for word, name in (document.get("types") or {}).items():
            if not importable(name):
                raise ImportFileError(_unknown_type(where, name))
            types_[_word(word)] = name
        columns = {name: header_key(str(header)) for name, header in (document.get("columns") or {}).items()}
        return cls(
            columns=columns,
            type=event_type,
            type_column=header_key(document["type_column"]) if document.get("type_column") else None,
            types=types_,
            values={
                name: {_word(w): v for w, v in words.items()} for name, words in (document.get("values") or {}).items()
            },
            fixed=dict(document.get("fixed") or {}),
            sheet=document.get("sheet"),
            required=[header_key(h) for h in document.get("required") or []],
        )

    @classmethod
    def load(cls, path: Path) -> Mapping_:
        try:
            raw = path.read_bytes()
            document = tomllib.loads(raw.decode("utf-8-sig")) if path.suffix.lower() == ".toml" else orjson.loads(raw)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, orjson.JSONDecodeError) as error:
            raise ImportFileError(
                Msg("mapping.unreadable", "{file} cannot be read as a mapping: {error}", file=path.name, error=error)
            ) from None
        return cls.parse(document, path.name)

    def headers_needed(self) -> list[str]:
        return self.required or ([self.type_column] if self.type_column else [])

    def fields_of(self, event_type: str) -> list[tuple[str, str, str, dict[str, str]]]:
        """(data field, column, kind of value, its words) for each mapped field the event type has."""
        if event_type not in self._plans:
            model = DATA_MODELS[event_type]
            self._plans[event_type] = [
                (target, column, field_kind(model, target), _words(self, event_type, target))
                for target, column in self.columns.items()
                if target not in ("event_id", "occurred_at") and target.split(".")[0] in model.model_fields
            ]
        return self._plans[event_type]


def importable(name: object) -> bool:
    return isinstance(name, str) and name in DATA_MODELS and name not in SYSTEM_TYPES


def _unknown_type(where: str, name: object) -> Msg:
    return Msg(
        "mapping.unknown_type",
        "{file}: {type!r} is not an event type that can be imported; use one of {known}",
        file=where,
        type=name,
        known=", ".join(sorted(set(DATA_MODELS) - SYSTEM_TYPES)),
    )


def header_key(header: str) -> str:
    """ "Record Type", "record-type" and "record_type" are the same column; 成交金额 is itself."""
    return "_".join(str(header).strip().lstrip("\ufeff").lower().replace("-", " ").replace("_", " ").split())


def _word(value: object) -> str:
    return header_key(str(value))


# ---------------------------------------------------------------- reading rows


@dataclass
class Row:
    number: int  # as the user sees it: the CSV's line, the sheet's row (the header is row 1 of a sheet at A1)
    cells: dict[str, Any]  # normalised header → cell
    headers: dict[str, str]  # normalised header → as written, for messages


def read_rows(
    path: Path, *, encoding: str | None, sheet: str | None, on_progress: Callable[[int], None]
) -> tuple[list[str], Iterator[Row]]:
    """The headers and the rows of a CSV or .xlsx file."""
    if path.suffix.lower() == ".csv":
        return csv_rows(path, encoding, on_progress)
    return xlsx_rows(path, sheet, on_progress)


def detect_encoding(head: bytes) -> str:
    """A BOM says UTF-8; otherwise UTF-8 if the bytes decode as it, else GB18030 (Excel on Chinese Windows)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ENCODINGS:
        try:
            head.decode(encoding)
        except UnicodeDecodeError as error:
            if error.start >= len(head) - 3:  # cut inside a character at the sample's end: still fine
                return encoding
            continue
        return encoding
    raise ImportFileError(
        Msg(
            "file.encoding",
            "the file is neither UTF-8 nor GB18030 text: "
            "export it as CSV (UTF-8), or name its encoding with --encoding",
        )
    )


def csv_rows(path: Path, encoding: str | None, on_progress: Callable[[int], None]) -> tuple[list[str], Iterator[Row]]:
    raw = path.read_bytes()
    chosen = encoding or detect_encoding(raw[: 1 << 20])
    try:
        text = raw.decode(chosen)
    except (UnicodeDecodeError, LookupError) as error:
        raise ImportFileError(
            Msg(
                "file.decode",
                "{file} cannot be read as {encoding}: {error}",
                file=path.name,
                encoding=chosen,
                error=error,
            )
        ) from None
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = _next_row(reader)
    if header is None:
        raise ImportFileError(
            Msg("csv.empty", "the CSV file is empty: it needs a header row (see `perfledger import --help`)")
        )
    headers = [header_key(h) for h in header]
    written = dict(zip(headers, (h.strip().lstrip("\ufeff") for h in header), strict=True))

    def rows() -> Iterator[Row]:
        last_line = reader.line_num
        while (cells := _next_row(reader)) is not None:
            start, last_line = last_line + 1, reader.line_num  # a quoted cell may span lines
            on_progress(1)
            if not any(cell.strip() for cell in cells):
                continue
            row = Row(start, {h: c.strip() for h, c in zip(headers, cells, strict=False) if h}, written)
            if len(cells) > len(headers):
                row.cells["\x00too_many"] = len(cells)
            yield row

    return headers, rows()


def _next_row(reader: Any) -> list[str] | None:
    """The next row, or None at the end; a row the csv module cannot read (a cell over its
    131,072-character limit, a stray NUL) refuses the file with the line's number."""
    try:
        return next(reader, None)
    except csv.Error as error:
        raise ImportFileError(
            Msg("csv.unreadable", "line {line} cannot be read as CSV: {error}", line=reader.line_num, error=error)
        ) from None


def xlsx_rows(path: Path, sheet: str | None, on_progress: Callable[[int], None]) -> tuple[list[str], Iterator[Row]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        if sheet is not None and sheet not in book.sheet_names:
            raise ImportFileError(
                Msg(
                    "xlsx.sheet",
                    "{file} has no sheet {sheet!r}; it has {sheets}",
                    file=path.name,
                    sheet=sheet,
                    sheets=", ".join(book.sheet_names),
                )
            )
        found = book.get_sheet_by_name(sheet) if sheet is not None else book.get_sheet_by_index(0)
        first_row = found.start[0] if found.start else 0
        cells = found.iter_rows()
        header = next(cells, None)
    except CalamineError as error:
        raise ImportFileError(
            Msg("xlsx.unreadable", "{file} cannot be read as a workbook: {error}", file=path.name, error=error)
        ) from None
    if header is None:
        raise ImportFileError(Msg("xlsx.empty", "the sheet is empty: it needs a header row"))
    headers = [header_key(_text(h)) for h in header]
    written = dict(zip(headers, (_text(h) for h in header), strict=True))

    def rows() -> Iterator[Row]:
        for offset, values in enumerate(cells, start=2):
            on_progress(1)
            if all(v == "" or v is None for v in values):
                continue
            yield Row(first_row + offset, {h: v for h, v in zip(headers, values, strict=False) if h}, written)

    return headers, rows()


def count_rows(path: Path) -> int | None:
    """A sheet's rows (for a progress bar); None for a CSV (its bar counts bytes)."""
    if path.suffix.lower() == ".csv":
        return None
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).total_height
    except Exception:  # the reading proper reports what is wrong with it
        return None


# ---------------------------------------------------------------- a row into an envelope


@dataclass
class Mapped:
    envelope: dict[str, Any] | None
    errors: list[tuple[str, str]]  # (header as written, message)
    columns: dict[str, str]  # envelope field (data.amount) → header as written


def map_row(row: Row, mapping: Mapping_, zone: tzinfo) -> Mapped:
    out = Mapped(None, [], {})

    def name(key: str) -> str:  # the header as the user wrote it
        return row.headers.get(key, key)

    if "\x00too_many" in row.cells:
        message = Msg(
            "csv.cells",
            "{cells} cells but {columns} columns: a comma inside a value must be quoted",
            cells=row.cells["\x00too_many"],
            columns=len(row.headers),
        )
        out.errors.append(("", message))
        return out
    event_type = mapping.type
    if mapping.type_column is not None:
        out.columns["type"] = name(mapping.type_column)
        word = _text(row.cells.get(mapping.type_column, ""))
        event_type = mapping.types.get(_word(word)) or TYPE_WORDS.get(_word(word))
        if event_type is None and importable(word):
            event_type = word
        if event_type is None:
            known = ", ".join(sorted({*mapping.types, "deal_opened", "deal_won", "deal_lost", "activity"}))
            message = Msg("row.type", "unknown record type {word!r}; use one of {known}", word=word, known=known)
            out.errors.append((name(mapping.type_column), message))
            return out
    assert event_type is not None
    envelope: dict[str, Any] = {"type": event_type, "data": {}}
    for key in ("event_id", "occurred_at"):
        column = mapping.columns.get(key)
        if column is not None:
            out.columns[key] = name(column)
            cell = row.cells.get(column, "")
            if _blank(cell):
                continue
            try:
                envelope[key] = _time(cell, zone) if key == "occurred_at" else _text(cell)
            except ValueError as error:
                out.errors.append((name(column), error.args[0]))
    envelope.setdefault("occurred_at", None)
    data: dict[str, Any] = {}
    for target, value in mapping.fixed.items():
        _put(data, target, value)
    for target, column, kind, words in mapping.fields_of(event_type):
        out.columns[f"data.{target}"] = name(column)
        cell = row.cells.get(column, "")
        if _blank(cell):
            continue
        try:
            value = convert(kind, cell, zone, words)
        except ValueError as error:
            out.errors.append((name(column), error.args[0]))
            continue
        _put(data, target, value)
    envelope["data"] = data
    out.envelope = envelope
    return out


def _words(mapping: Mapping_, event_type: str, target: str) -> dict[str, str]:
    return {
        **VALUE_WORDS.get(target, {}),
        **TYPE_VALUE_WORDS.get((event_type, target), {}),
        **mapping.values.get(target, {}),
    }


def _put(data: dict[str, Any], target: str, value: Any) -> None:
    *path, last = target.split(".")
    for part in path:
        data = data.setdefault(part, {})
    data[last] = value


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# ---------------------------------------------------------------- cells into values


@cache
def field_kind(model: type[BaseModel], target: str) -> str:
    """What a (possibly dotted) data field holds: money, time, int, bool, scope, pairs, splits, ints,
    texts, json or text."""
    top, _, rest = target.partition(".")
    annotation = _bare(model.model_fields[top].annotation)
    if rest:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and rest in annotation.model_fields:
            return field_kind(annotation, rest)
        return "int" if top == "process_scores" else "text"  # scope.rep, process_scores.发现需求
    if top == "scope":
        return "scope"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        item = _bare(args[0]) if args else str
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "splits"
        return "ints" if item is int else "texts"
    if origin is dict:
        return "pairs" if args and _bare(args[1]) is int else "json"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) or annotation is dict:
        return "json"
    return {Decimal: "money", datetime: "time", bool: "bool", int: "int"}.get(annotation, "text")


def _bare(annotation: Any) -> Any:
    """Annotated[X, …] → X; X | None → X."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def convert(kind: str, cell: Any, zone: tzinfo, words: Mapping[str, str]) -> Any:
    """A cell as the value of a field of that kind (field_kind)."""
    if kind == "text":
        text = _text(cell)
        return words.get(_word(text), _word(text)) if words else text  # a closed list: its words in lower case
    if kind == "money":
        return money_text(cell)
    if kind == "time":
        return _time(cell, zone)
    if kind == "int":
        return _int(cell)
    if kind == "bool":
        return _bool(cell)
    text = _text(cell).strip()
    if text[:1] in "[{":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError(Msg("cell.json", "{cell!r} is not valid JSON", cell=text[:60])) from None
    if kind == "scope":
        return _scope(text)
    if kind == "texts":
        return [item.strip() for item in re.split(r"[\n;；]", text) if item.strip()]
    if kind == "ints":
        return [_int(item) for item in re.split(r"[\s,，;；]+", text) if item]
    if kind == "pairs":
        return {key: _int(value) for key, value in _pairs(text)}
    if kind == "splits":
        return [{"rep_id": key, "share": money_text(value)} for key, value in _pairs(text)]
    raise ValueError(Msg("cell.json_needed", "write this field as JSON, e.g. {example}", example='{"key": "value"}'))


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # an id Excel stored as a number: 10023.0 → "10023"
    return str(cell).strip()


def money_text(cell: Any) -> str:
    """`¥12,345.5`, `12,345.50 元`, an Excel 12345.5 → "12345.5": a decimal string, as the ledger takes
    money (the ledger keeps it to the cent, and refuses a third decimal place)."""
    if isinstance(cell, bool):
        raise ValueError(Msg("cell.money", "{cell!r} is not an amount", cell=cell))
    if isinstance(cell, (int, float)):
        return str(Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell))
    cleaned = re.sub(r"[\s,，¥￥元]|^(CNY|RMB)", "", str(cell).strip(), flags=re.IGNORECASE)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValueError(Msg("cell.money", "{cell!r} is not an amount", cell=str(cell)[:60]))
    return str(number)


# 2026-11-28, 2026/11/28 16:00, 2026.11.28 16:00:05, 2026年11月28日, 2026年11月28日 16:00 (no zone)
_LOCAL_TIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


def _time(cell: Any, zone: tzinfo) -> str:
    """An aware ISO 8601 time; a cell without a zone is read in `zone` (PERFLEDGER_TZ)."""
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, date):
        moment = datetime.combine(cell, time())
    else:
        text = _text(cell).replace("：", ":")
        parsed = _parse_time(text)
        if parsed is None:
            raise ValueError(
                Msg(
                    "cell.time",
                    "{cell!r} is not a date or time: write 2026-11-28 16:00, 2026/11/28 16:00 or 2026年11月28日",
                    cell=text[:60],
                )
            )
        moment = parsed
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _parse_time(text: str) -> datetime | None:
    match = _LOCAL_TIME.match(text)
    try:
        if match:
            year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
            return datetime(year, month, day, hour, minute, second)
        return datetime.fromisoformat(text)  # ISO 8601, with or without an offset
    except ValueError:
        return None


def _int(cell: Any) -> int:
    if isinstance(cell, bool):
        raise ValueError(Msg("cell.int", "{cell!r} is not a whole number", cell=cell))
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    try:
        return int(str(cell).strip().replace(",", ""))
    except ValueError:
        raise ValueError(Msg("cell.int", "{cell!r} is not a whole number", cell=str(cell)[:60])) from None


def _bool(cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    word = _word(_text(cell))
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(Msg("cell.bool", "{cell!r} is not yes or no (是/否)", cell=_text(cell)[:60]))


def _scope(text: str) -> dict[str, Any]:
    """`rep:R-1`, `team:T-1`, `region:华东`, `company` (公司) → the ledger's scope object."""
    if _word(text) in ("company", "公司", "全公司"):
        return {"company": True}
    kind, sep, value = text.replace("：", ":").partition(":")
    if not sep:
        raise ValueError(
            Msg("cell.scope", "{cell!r} is not a scope: write rep:ID, team:ID, region:NAME or company", cell=text[:60])
        )
    return {_word(kind): value.strip()}


def _pairs(text: str) -> Iterator[tuple[str, str]]:
    for item in re.split(r"[\n;；,，]", text):
        if not item.strip():
            continue
        key, sep, value = item.replace("：", ":").rpartition(":")
        if not sep or not key.strip():
            raise ValueError(
                Msg("cell.pairs", "{cell!r} is not a list of name:value pairs, e.g. R-1:0.6; R-2:0.4", cell=text[:60])
            )
        yield key.strip(), value.strip()
