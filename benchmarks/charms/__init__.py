"""Charms the benchmarks run: the hand-written baseline and a read probe."""
