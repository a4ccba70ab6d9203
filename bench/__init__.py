"""Benchmarks of GridCollect: `make bench` runs bench/run.py and writes docs/BENCHMARKS.md."""
