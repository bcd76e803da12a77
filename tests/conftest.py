"""Shared small fixtures: an engine, file writers and a one-call scoring workspace.

Everything is built inside ``tmp_path``; no test reads a workspace it did not write.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tierwise.engine import connect

#: The scoring date used by the hand-computed cases.
AS_OF = date(2026, 11, 1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def engine():
    """An in-memory DuckDB engine, closed after the test."""
    with connect("duckdb://") as eng:
        yield eng


@pytest.fixture
def write_file(tmp_path):
    """``write_file("data/accounts.csv", text)`` writes dedented text under tmp_path."""

    def write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def rows_of(engine):
    """Run an Ibis table on the test engine and return its rows as dicts."""

    def run(expr) -> list[dict]:
        return engine.to_arrow(expr).to_pylist()

    return run


@pytest.fixture
def make_workspace(tmp_path):
    """Write a spec plus data files into a fresh folder and return the spec path.

    ``spec`` is the YAML below ``data:``; the ``data:`` section is generated
    from the file names (``accounts.csv`` -> ``data.accounts``).
    """
    counter = {"n": 0}

    def make(spec: str, files: dict[str, str], *, data: str | None = None) -> Path:
        counter["n"] += 1
        ws = tmp_path / f"ws{counter['n']}"
        ws.mkdir()
        for name, text in files.items():
            (ws / name).write_text(dedent(text), encoding="utf-8")
        if data is None:
            data = "data:\n" + "".join(f"  {Path(n).stem}: {{path: {n}}}\n" for n in files)
        (ws / "spec.yaml").write_text(dedent(data) + dedent(spec), encoding="utf-8")
        return ws / "spec.yaml"

    return make


@pytest.fixture
def score_rows(make_workspace):
    """Score a small workspace and return ``{account_id: output row}``.

    ``score_rows(spec, accounts_csv, activities_csv=None, as_of=AS_OF)``
    """
    from tierwise.jobs.score import score

    def run(spec: str, accounts: str, activities: str | None = None, *, as_of: date = AS_OF) -> dict[str, dict]:
        files = {"accounts.csv": accounts}
        if activities is not None:
            files["activities.csv"] = activities
        spec_path = make_workspace(spec, files)
        result = score(spec_path, spec_path.parent / "out", as_of=as_of)
        rows = pq.read_table(result.files["parquet"]).to_pylist()
        return {r["account_id"]: r for r in rows}

    return run
