"""Benchmarks and their data generators (see docs/demo-data.md and docs/benchmarks.md)."""
