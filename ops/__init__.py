"""Operator tooling: the embedded PostgreSQL, the `make run` supervisor and migrations."""
