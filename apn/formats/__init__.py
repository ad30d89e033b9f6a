"""Parsers and writers of external formats (DAK XML)."""
