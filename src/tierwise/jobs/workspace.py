"""Load a spec's input tables through an engine, accounts first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tierwise.engine import Engine, write_text_atomic
from tierwise.io.loader import TableLoad, load_table, locate
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile

#: Tables loaded after accounts, in dependency order.
LOAD_ORDER = ("accounts", "reps", "contacts", "leads", "opportunities", "activities", "lead_activities", "transactions")


@dataclass
class Workspace:
    """A spec, its engine and its loaded tables."""

    spec_file: SpecFile
    engine: Engine
    loads: dict[str, TableLoad] = field(default_factory=dict)

    def table(self, name: str):
        load = self.loads.get(name)
        return load.clean if load else None

    def load(self, name: str, *, only: set[str] | None = None, progress: Progress = NULL_PROGRESS) -> None:
        """Load one more of the spec's tables (accounts must be loaded first when the table refers to them)."""
        source = self.spec_file.spec.data.sources()[name]
        with progress.step(f"loading {name}"):
            accounts = self.loads["accounts"].clean if "accounts" in self.loads else None
            self.loads[name] = load_table(self.engine, name, source, locate(self.spec_file, source),
                                          accounts=accounts, only=only)

    def load_summary(self) -> dict[str, Any]:
        return {name: load.summary() for name, load in self.loads.items()}

    def write_quarantine(self, out_dir: Path) -> dict[str, str]:
        """Write each table's quarantined rows (with their reasons) as CSV; return the files written."""
        written = {}
        for name, load in self.loads.items():
            path = out_dir / "quarantine" / f"{name}.csv"
            if load.quarantined:
                self.engine.write(load.quarantine, path, "csv")
                written[name] = str(path)
            elif path.exists():
                path.unlink()  # a stale file from an earlier run would mislead
        return written


def load_workspace(engine: Engine, spec_file: SpecFile, *, tables: tuple[str, ...] | None = None,
                   columns: dict[str, set[str]] | None = None, progress: Progress = NULL_PROGRESS) -> Workspace:
    """Load every table the spec names (or just ``tables``), quarantining bad rows.

    ``columns`` optionally limits a table to the columns a job reads (checked
    columns are always loaded, so quarantines do not depend on the job).
    """
    ws = Workspace(spec_file, engine)
    sources = spec_file.spec.data.sources()
    for name in LOAD_ORDER:
        if name not in sources or (tables is not None and name not in tables and name != "accounts"):
            continue
        ws.load(name, only=(columns or {}).get(name), progress=progress)
    return ws


def resolve_as_of(spec_file: SpecFile, as_of: date | None) -> date:
    """The scoring date: the argument, else the spec's, else today (UTC)."""
    return as_of or spec_file.spec.as_of or datetime.now(UTC).date()


def write_json(path: Path, payload: Any) -> Path:
    import json

    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
