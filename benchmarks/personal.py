"""The cost of sealing personal fields: ingest and rebuild with them encrypted, beside clear.

    .venv/bin/python -m benchmarks.personal --events 200000
    .venv/bin/python -m benchmarks.personal --events 200000 --only-personal 50000

Two stores of the same generated events (`demo.generator`), one recorded by the ledger as it is
(personal fields sealed under each rep's keys), one by the ledger with sealing off (as it
recorded before: `ClearLedger`). For each: `Ledger.record` in batches of 1,000 (the generator's
own time left out), then `projections.runner.rebuild` from nothing in this process, each
`--rounds` times in alternation (clear, sealed, clear, sealed, …: the shared machine's speed drifts),
the best round of each kept. `--only-personal N` adds a worst case: N events that are all
personal (feedback with a text), which says what one sealed event costs.
Figures in docs/performance.md ("Personal data sealed").
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from demo.generator import generate
from ledger.config import Settings
from ledger.personal import PERSONAL_FIELDS
from ledger.store import Ledger
from projections.db import engine_for
from projections.runner import rebuild

BATCH = 1000


class ClearLedger(Ledger):
    """The ledger with sealing off: personal fields stored in clear (the baseline)."""

    sealed_types = frozenset()


def events(n: int, only_personal: bool) -> Iterator[dict]:
    if not only_personal:
        yield from generate(n)
        return
    reps = [f"R-{i:03d}" for i in range(100)]
    for rep in reps:
        yield {
            "type": "RepOnboarded",
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "data": {"rep_id": rep, "name": f"销售代表 {rep}", "team_id": "T-1", "region": "East"},
        }
    for i in range(n - len(reps)):
        yield {
            "type": "FeedbackGiven",
            "occurred_at": "2026-02-01T00:00:00+00:00",
            "data": {
                "feedback_id": f"F-{i}",
                "rep_id": reps[i % len(reps)],
                "author_id": "M-1",
                "kind": "coaching",
                "text": f"跟进客户时要更及时，第 {i} 次反馈：下周复盘三个大单的推进计划。",
            },
        }


def one_round(kind: type[Ledger], folder: Path, n: int, only_personal: bool) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite:///{folder / f'{kind.__name__}.db'}")
    ledger = kind(settings)
    stream = events(n, only_personal)
    seconds, personal, recorded = 0.0, 0, 0
    while True:
        batch = list(itertools.islice(stream, BATCH))
        if not batch:
            break
        personal += sum(1 for e in batch if e["type"] in PERSONAL_FIELDS)
        started = time.perf_counter()
        ledger.record(batch, "bench:personal")
        seconds += time.perf_counter() - started
        recorded += len(batch)
    engine = engine_for(settings)
    started = time.perf_counter()
    rebuild(ledger, engine)
    rebuilt = time.perf_counter() - started
    engine.dispose()
    ledger.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / f'{kind.__name__}.db'}{suffix}").unlink(missing_ok=True)
    return {"events": recorded, "personal": personal, "ingest_s": seconds, "rebuild_s": rebuilt}


def compare(n: int, rounds: int, only_personal: bool, workdir: str | None) -> dict:
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="perfledger-personal-", dir=workdir) as folder:
        for _ in range(rounds):
            for kind in (ClearLedger, Ledger):
                name = "clear" if kind is ClearLedger else "sealed"
                got = one_round(kind, Path(folder), n, only_personal)
                print(name, orjson.dumps(got).decode(), flush=True)
                if name not in best:
                    best[name] = got
                else:
                    best[name]["ingest_s"] = min(best[name]["ingest_s"], got["ingest_s"])
                    best[name]["rebuild_s"] = min(best[name]["rebuild_s"], got["rebuild_s"])
    clear, sealed = best["clear"], best["sealed"]
    return {
        "events": clear["events"],
        "personal_events": clear["personal"],
        "only_personal": only_personal,
        "rounds": rounds,
        "clear": clear,
        "sealed": sealed,
        "ingest_cost": sealed["ingest_s"] / clear["ingest_s"] - 1,
        "rebuild_cost": sealed["rebuild_s"] / clear["rebuild_s"] - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--only-personal", type=int, default=0, help="also N events that are all personal")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    runs = [compare(args.events, args.rounds, False, args.workdir)]
    if args.only_personal:
        runs.append(compare(args.only_personal, args.rounds, True, args.workdir))
    for run in runs:
        print(orjson.dumps(run, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
