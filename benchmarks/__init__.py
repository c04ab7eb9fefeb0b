"""Benchmarks: `python -m benchmarks` prints the table kept in BENCHMARKS.md."""
