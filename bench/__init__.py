"""Linli benchmarks: `python -m bench` (make bench)."""
