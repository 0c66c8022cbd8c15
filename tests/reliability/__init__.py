"""Helpers of the reliability tests (tests/test_reliability_*.py): real processes, loopback only."""
