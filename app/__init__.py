"""Jobline: a Redis-backed job system. This package imports nothing heavy (no Flask) on purpose."""

__version__ = "0.1.0"
