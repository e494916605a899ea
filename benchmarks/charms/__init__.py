"""Charms the benchmarks run: hand-written baselines, variants of the tester charm, a probe."""
