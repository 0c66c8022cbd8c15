"""The rebuild, alone in a process of its own, so that its peak RSS can be read.

    python -m benchmarks.rebuild_child --database-url URL [--upto P --into URL] [--profile FILE]

Without --upto: `projections.runner.rebuild` of the store's projections, from scratch.
With --upto P --into URL: the log up to position P projected into another (scratch) store:
the same fold over a prefix of the log, to compare peak memory at two sizes in one run.
Prints one JSON line: seconds, events, hwm_kb (this process's own peak RSS, VmHWM: unlike
getrusage, not inherited from the process that started it) and hwm_before_kb (the same, before
the rebuild began: imports and connections). The benchmark starts it under `rss_probe`, which
reads getrusage(RUSAGE_CHILDREN).ru_maxrss as it ends.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import orjson


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--upto", type=int)
    parser.add_argument("--into")
    parser.add_argument("--profile")
    args = parser.parse_args()

    from ledger.config import Settings
    from ledger.reading import BoundedLog
    from ledger.store import Ledger
    from projections.db import engine_for
    from projections.runner import rebuild

    ledger = Ledger(Settings(database_url=args.database_url))
    source = ledger if args.upto is None else BoundedLog(ledger, args.upto)
    engine = engine_for(Settings(database_url=args.into or args.database_url))
    before = _hwm_kb()
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    started = time.perf_counter()
    reached = rebuild(source, engine)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        profile = Path(args.profile)
        profile.parent.mkdir(parents=True, exist_ok=True)  # --profile-dir need not exist yet
        with profile.open("w") as out:
            out.write(profiler.output_text(unicode=True, color=False, show_all=False))
    peak = _hwm_kb()
    engine.dispose()
    ledger.close()
    sys.stdout.write(
        orjson.dumps({"seconds": seconds, "events": reached, "hwm_kb": peak, "hwm_before_kb": before}).decode() + "\n"
    )


def _hwm_kb() -> int:
    """This process's peak RSS in kB (VmHWM), or getrusage's where /proc is not there."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
