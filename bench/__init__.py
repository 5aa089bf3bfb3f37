"""Benchmarks: run as modules, e.g. ``python -m bench.dashboard``; not part of the test suite."""
