"""Run a command as this process's only child and report the child's peak RSS.

    python -m benchmarks.rss_probe COMMAND…   → the command's stdout, then one JSON line
                                               {"children_maxrss_kb": …, "returncode": …}

Why a probe in between: Linux carries a process's high-water RSS across `execve` (and Python
starts children with vfork), so a child started straight from the benchmark would report the
benchmark's own peak — hundreds of MB after the ingest — as its own. This probe starts small
(the standard library only), so `getrusage(RUSAGE_CHILDREN).ru_maxrss` read here is the
command's own peak.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def main() -> None:
    done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
    sys.stdout.write(done.stdout.decode())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stdout.write(json.dumps({"children_maxrss_kb": peak, "returncode": done.returncode}) + "\n")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
