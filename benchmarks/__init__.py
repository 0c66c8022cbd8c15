"""The benchmark harness of issue 7: `python -m benchmarks.run` (see benchmarks/README.md)."""
