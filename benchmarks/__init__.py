"""Benchmarks (not tests): each `benchmarks/<area>.py` has `main() -> int` and prints its figures
as ratios against a floor measured in the same run. `python -m benchmarks` runs them all."""
