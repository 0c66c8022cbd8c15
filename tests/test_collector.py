"""Every Perfledger process spaces out CPython's cyclic collections and freezes its startup heap
(api/collector.py): the CLI's `main` and each `serve --workers N` worker, each checked in a
fresh interpreter, as its own process would start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD

pytestmark = pytest.mark.processes  # each starts an interpreter

ROOT = Path(__file__).resolve().parents[1]
REPORT = "import gc; print(*gc.get_threshold(), gc.get_freeze_count() > 0)"


def collector_after(start: str, tmp_path: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "PERFLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", f"{start}\n{REPORT}"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()[-1].split()  # the report, after what the start printed (the help)


@pytest.mark.parametrize(
    "start",
    [
        # `perfledger` with no command: its help
        "from api.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
        "from api.cli_worker import api_for_workers\napi_for_workers()",
    ],
    ids=["cli", "server-worker"],
)
def test_a_perfledger_process_spaces_out_its_garbage_collections(start, tmp_path):
    expected = [str(YOUNG_THRESHOLD), *map(str, OLDER_THRESHOLDS), "True"]
    assert collector_after(start, tmp_path) == expected


def test_a_plain_interpreter_keeps_cpythons_defaults(tmp_path):
    """The check above would pass on any interpreter already set this way: this one is not."""
    assert collector_after("pass", tmp_path) == ["700", "10", "10", "False"]
