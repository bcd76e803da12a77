"""Errors tierwise raises for problems a user can fix.

The CLI prints a :class:`TierwiseError` as one clear message and exits 1;
anything else is a bug and shows a traceback with ``--debug``.
"""

from __future__ import annotations


class TierwiseError(Exception):
    """A problem with the user's input, spec or environment, with how to fix it."""


class DataError(TierwiseError):
    """An input file that cannot be loaded at all (missing file, missing required column)."""


class EngineError(TierwiseError):
    """The engine failed to run generated SQL; the message carries the SQL."""

    def __init__(self, message: str, sql: str | None = None):
        self.sql = sql
        super().__init__(message if sql is None else f"{message}\n--- failing SQL ---\n{sql}")
