"""Test and benchmark support shipped with the package (temporary PostgreSQL, factories)."""
