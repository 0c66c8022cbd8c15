"""The benchmark harness: `python -m benchmarks.run` (see docs/performance.md)."""
