"""What every command shares: consoles, progress drawing, error handling, common arguments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tierwise.errors import TierwiseError

# emoji off: ":100:" in "spec.yaml:100: ..." must not become an emoji
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)
state: dict[str, bool] = {"debug": False}


class RichProgress:
    """Draws each library step as a line with a spinner and its elapsed time."""

    def __init__(self, progress: Progress):
        self.progress = progress

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        task = self.progress.add_task(description, total=1)
        try:
            yield
        finally:
            self.progress.update(task, completed=1)


@contextmanager
def progress_bar() -> Iterator[RichProgress]:
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20), TimeElapsedColumn(),
                   console=err_console, transient=False, disable=not err_console.is_terminal)
    with bar:
        yield RichProgress(bar)


def fail(exc: BaseException) -> None:
    if state["debug"]:
        raise exc
    message = str(exc)
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def run(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except TierwiseError as exc:
        fail(exc)
    except (OSError, ValueError) as exc:  # unreadable files, bad values from the OS or libraries
        fail(exc)


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(TierwiseError(f"--as-of must be a date like 2026-11-01, got {value!r}"))
    return None


SpecArg = Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Scoring date YYYY-MM-DD (default: the spec's as_of, else today).")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Engine URL overriding the spec's: duckdb:///ws.duckdb, spark (local mode), spark://local[2], "
                     "spark://HOST:7077 (see docs/scaling.md).")]
