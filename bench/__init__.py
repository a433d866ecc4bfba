"""Warble's benchmarks: dataset, query and HTTP benchmarks (see docs/benchmarks.md)."""
