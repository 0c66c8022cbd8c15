"""Non-cash recognitions (荣誉证书, 优秀销售): RecognitionGranted, an award without money, listed on
the rep's statement (JSON, the printable page) and in their history, never a payout line.

The department (tests/api_client.py): R-ann is owed 9800.00 for 2026-Q1.
"""

from __future__ import annotations

from api_client import FAR, OWN, Api
from builders import ev

T = "2026-04-02T10:00:00+00:00"


def recognition(rep: str = OWN, **more) -> dict:
    return ev("RecognitionGranted", T, rep_id=rep, period="2026-Q1", title="优秀销售", reason="best quarter", **more)


def test_a_recognition_is_listed_on_the_statement_and_in_the_history_and_pays_nothing(api):
    (position,) = api.record(recognition())
    statement = api.get(f"/statements/{OWN}/2026-Q1", role="rep").json()
    assert statement["total"] == "9800.00"  # no line: 4800 commission + 5000 bonus, as before
    assert [line["kind"] for line in statement["lines"]] == ["commission", "bonus"]
    assert [(r["title"], r["reason"], r["position"]) for r in statement["recognitions"]] == [
        ("优秀销售", "best quarter", position)
    ]
    page = api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="html")
    assert "优秀销售 — best quarter" in page.text
    history = api.get(f"/reps/{OWN}/history", role="rep").json()["history"]
    assert [(e["kind"], e["data"]["title"], e["position"]) for e in history if e["kind"] == "recognition"] == [
        ("recognition", "优秀销售", position)
    ]
    # another period's statement does not list it
    assert api.get(f"/statements/{OWN}/2026-Q2", role="rep").json()["recognitions"] == []


def test_the_typed_command_grants_a_certificate_and_a_rep_cannot_grant_one(api):
    granted = api.post("/recognitions", {"rep_id": FAR, "period": "2026-Q1", "title": "荣誉证书"}, role="finance")
    assert granted.status_code == 201, granted.text
    assert api.get(f"/statements/{FAR}/2026-Q1").json()["recognitions"][0]["title"] == "荣誉证书"
    head = api.head()
    assert api.post("/events", {"events": [recognition()]}, role="rep").status_code == 403
    assert api.head() == head


def test_a_recognition_carries_no_money_an_amount_is_a_422_naming_it(api: Api):
    head = api.head()
    response = api.post("/events", {"events": [recognition(amount="100.00")]})
    assert response.status_code == 422
    assert "data.amount" in {p["field"] for p in response.json()["detail"]}
    assert api.head() == head


def _csv_rows(response) -> list[list[str]]:
    import csv
    import io

    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_statement_csv_and_xlsx_list_a_recognition_below_the_total_without_an_amount(api):
    import io

    from openpyxl import load_workbook

    (position,) = api.record(recognition())
    rows = _csv_rows(api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="csv", lang="en"))
    # header, the two lines (4800.00 commission + 5000.00 target-bonus), the total 9800.00, then the
    # recognition: its title and reason, no amount (it pays nothing), the event behind it
    assert rows[0] == ["Component", "Kind", "Amount", "Events"]
    assert [row[0] for row in rows[1:4]] == ["commission", "target-bonus", "Total"]
    assert rows[3][2] == "9800.00"
    assert rows[-1] == ["优秀销售 — best quarter", "recognition (no money)", "", str(position)]
    zh = _csv_rows(api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="csv", lang="zh-CN"))
    assert zh[-1] == ["优秀销售 — best quarter", "表彰（无奖金）", "", str(position)]
    book = load_workbook(io.BytesIO(api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="xlsx").content))
    cells = list(book.active.iter_rows(values_only=True))
    assert cells[-1] == ("优秀销售 — best quarter", "recognition (no money)", None, str(position))
    # the total is still the lines' sum: the recognition is no payout line
    total = next(row for row in cells if row[0] == "Total")
    assert total[2] == 9800


def test_a_statement_without_recognitions_exports_only_its_lines_and_total(api):
    rows = _csv_rows(api.get(f"/statements/{OWN}/2026-Q1", role="rep", format="csv", lang="en"))
    assert [row[0] for row in rows[1:]] == ["commission", "target-bonus", "Total"]
