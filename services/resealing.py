"""The one-off reseal of a store recorded before personal fields were sealed (see
`ledger/resealing.py` for how the chain is kept): verify, reseal in place, attest the run in the
chain with `PersonalDataResealed`, compact the SQLite file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.resealing import reseal, run_digest
from ledger.store import Ledger
from services.erasure import compact


class ResealRefused(Exception):
    """The reseal cannot run; the message says why."""


@dataclass(frozen=True)
class ResealReport:
    run: str | None  # None: nothing was in clear
    count: int
    position: int | None  # the PersonalDataResealed event


def reseal_history(ledger: Ledger, actor: str) -> ResealReport:
    report = ledger.verify()
    if not report.ok:
        raise ResealRefused(f"the ledger does not verify ({report.message}): nothing was resealed")
    now = datetime.now(UTC)
    run = f"reseal-{now:%Y%m%dT%H%M%S%f}"
    rows = reseal(ledger, run)
    if not rows:
        return ResealReport(None, 0, None)
    envelope = {
        "type": "PersonalDataResealed",
        "occurred_at": now.isoformat(),
        "data": {"run": run, "count": len(rows), "digest": run_digest(rows)},
    }
    recorded = ledger.record([envelope], actor, system=True)
    compact(ledger.settings.database_url)
    return ResealReport(run, len(rows), recorded.positions[0])
