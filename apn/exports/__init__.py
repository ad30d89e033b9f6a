"""Exports: pure functions, query in, bytes out (xlsx, csv, pain.001, SIE, DAK, statistics)."""
