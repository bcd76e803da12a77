"""Engines: the only layer with a connection. Pick one by URL (``duckdb://``)."""

from tierwise.engine.base import ROW_COLUMN, Engine, PreparedQuery, RawTable, atomic_path, connect, write_text_atomic

__all__ = ["ROW_COLUMN", "Engine", "PreparedQuery", "RawTable", "atomic_path", "connect", "write_text_atomic"]
