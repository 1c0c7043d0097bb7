"""Benchmarks (`make bench`). Each ``bench/bench_*.py`` module has ``run() -> list[Figure]``;
ratios are always measured side by side in one run, because this machine is shared and noisy."""
