"""Benchmarks: see docs/benchmarks.md for the commands and the results."""
