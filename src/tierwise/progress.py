"""Progress reporting hooks: the library reports steps, the CLI draws them.

Domain code calls ``progress.step("loading accounts")`` as a context manager;
the default does nothing, the CLI passes a Rich implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Progress(Protocol):
    def step(self, description: str) -> AbstractContextManager[None]: ...


class NullProgress:
    """Reports nothing."""

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        yield


NULL_PROGRESS = NullProgress()
