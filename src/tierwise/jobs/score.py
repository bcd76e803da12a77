"""``tierwise validate`` and ``tierwise score`` as library functions.

Examples
--------
>>> from tierwise.jobs.score import score
>>> result = score("demo-workspace/spec.yaml", "out/")          # doctest: +SKIP
>>> result.summary["tiers"]["A"]["accounts"]                       # doctest: +SKIP
412
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.compile.scoring import compile_scores
from tierwise.engine import connect
from tierwise.errors import DataError
from tierwise.jobs.workspace import Workspace, load_workspace, resolve_as_of, write_json
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.reports.quality import profile_accounts, profile_table
from tierwise.spec.loader import SpecFile, load_spec


@dataclass
class ValidateResult:
    spec_file: SpecFile
    as_of: date
    tables: dict[str, Any]
    quality: dict[str, Any]
    quarantine_files: dict[str, str]

    @property
    def quarantined(self) -> int:
        return sum(t["quarantined"] for t in self.tables.values())


@dataclass
class ScoreResult:
    spec_file: SpecFile
    as_of: date
    out_dir: Path
    files: dict[str, str]
    tables: dict[str, Any]
    summary: dict[str, Any]
    top: list[dict[str, Any]]
    run: dict[str, Any] | None = None  # the run recorded in the history store (None: not recorded)


def _open(spec: str | Path | SpecFile, engine_url: str | None):
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    return spec_file, connect(engine_url or spec_file.spec.engine)


def validate(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
             engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> ValidateResult:
    """Load every table, write quarantined rows and the data-quality profile."""
    spec_file, engine = _open(spec, engine_url)
    out = Path(out_dir)
    with engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, progress=progress)
        with progress.step("profiling data quality"):
            quality = _profile(ws, day)
        quarantine = ws.write_quarantine(out)
        tables = ws.load_summary()
        write_json(out / "load_summary.json", tables)
        write_json(out / "quality.json", quality)
    return ValidateResult(spec_file, day, tables, quality, quarantine)


def _profile(ws: Workspace, day: date) -> dict[str, Any]:
    out = {}
    for name, load in ws.loads.items():
        if name == "accounts":
            out[name] = profile_accounts(ws.engine, load.clean, as_of=day)
        else:
            out[name] = profile_table(ws.engine, name, load.clean, as_of=day)
    return out


def score(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
          engine_url: str | None = None, progress: Progress = NULL_PROGRESS, top_n: int = 10,
          record: bool | None = None, history: str | None = None, run_id: str | None = None,
          to_table: str | None = None) -> ScoreResult:
    """Score, tier and segment every account; write Parquet, CSV, quarantine and summary files.

    The run is recorded in the history store (``history``, else the spec's ``governance.history``) unless
    ``record`` is False (default: the spec's ``governance.record``); ``run_id`` names it. ``to_table``
    (``schema.table``) also writes the scores to that table of the spec's ``data.database``, replacing it
    atomically. ``engine_url`` is an engine URL, an :class:`~tierwise.engine.Engine` or a SparkSession.
    """
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    if to_table is not None:
        _check_target(spec_file, to_table)
    spec_file, engine = _open(spec_file, engine_url)
    out = Path(out_dir)
    with engine:
        day = resolve_as_of(spec_file, as_of)
        spec = spec_file.spec
        ws = load_workspace(engine, spec_file, tables=scoring_tables(spec), columns=SCORING_COLUMNS,
                            progress=progress)
        if ws.loads["accounts"].loaded == 0:
            raise DataError(f"{ws.loads['accounts'].path}: no account could be loaded "
                            f"({ws.loads['accounts'].quarantined} quarantined); see {out / 'quarantine' / 'accounts.csv'}")
        scores = account_scores_expr(ws, day, progress)
        with progress.step("scoring accounts"):
            scores = engine.materialize(scores)
        files = {}
        with progress.step("writing scores"):
            ordered = scores.order_by("account_id")
            files["parquet"] = str(engine.write(ordered, out / "scores.parquet", "parquet"))
            files["csv"] = str(engine.write(ordered, out / "scores.csv", "csv"))
            files.update({f"quarantine_{k}": v for k, v in ws.write_quarantine(out).items()})
        if to_table is not None:
            from tierwise.io.postgres import write_table

            with progress.step(f"writing scores to {to_table}"):
                write_table(spec.data.database, to_table, engine.to_arrow(ordered))
                files["table"] = to_table
        summary = _summary(engine, spec_file, scores, day)
        summary["inputs"] = {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}
                             for name, load in ws.loads.items()}
        run = None
        if spec.governance.record if record is None else record:
            from tierwise.jobs.governance import record_run

            run = record_run(ws, scores, day, summary, history=history, run_id=run_id, progress=progress)
            summary["run"] = {"run_id": run["run_id"], "history": run["store"]}
        files["summary"] = str(write_json(out / "summary.json", summary))
        top = engine.to_arrow(
            scores.order_by([ibis.desc("score"), "account_id"]).limit(top_n)
        ).to_pylist()
        tables = ws.load_summary()
    return ScoreResult(spec_file, day, out, files, tables, summary, top, run)


def _check_target(spec_file: SpecFile, table: str) -> None:
    """Fail before any work when the scores cannot go to ``table``."""
    import re

    if spec_file.spec.data.database is None:
        raise DataError(f"{spec_file.path}: --to-table {table} writes to the spec's data.database, which is not set; "
                        "add data.database: postgresql://USER@HOST:5432/DB")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?", table):
        raise DataError(f"--to-table {table!r}: give a table name as schema.table or table (letters, digits, _)")


#: The activity columns account scoring reads (the loader skips the rest).
SCORING_COLUMNS = {"activities": {"account_id", "event_type", "occurred_at"}}


def uses_learned(spec: Any) -> bool:
    """Whether the score weighs in a learned component (propensity or lookalike)."""
    return bool(spec.uses_propensity or spec.lookalike.weight > 0)


def scoring_tables(spec: Any) -> tuple[str, ...]:
    """The tables account scoring loads: learned components also read deals and transactions."""
    return ("accounts", "activities") + (("opportunities", "transactions") if uses_learned(spec) else ())


def account_scores_expr(ws: Workspace, day: date, progress: Progress = NULL_PROGRESS) -> ir.Table:
    """Every account's score, tier, segment and reasons as ``tierwise score`` computes them, as an expression.

    Learned components are computed first (their own progress steps); the expression is not run:
    callers materialise, write or select from it.
    """
    components = learned_components(ws, as_of=day, progress=progress) if uses_learned(ws.spec_file.spec) else None
    return compile_scores(ws.spec_file, ws.table("accounts"), ws.table("activities"), as_of=day,
                          components=components)


def learned_components(ws: Workspace, *, as_of: date, progress: Progress = NULL_PROGRESS) -> dict[str, Any]:
    """The propensity and lookalike scores the spec weighs in, as engine tables (account_id, score, reason)."""
    from tierwise.jobs import learning
    from tierwise.jobs.icp import lookalike_scores
    from tierwise.jobs.model import propensity_scores

    spec = ws.spec_file.spec
    out = {}
    if spec.uses_propensity:
        with progress.step("propensity from the trained model"):
            p = propensity_scores(ws, ws.spec_file, as_of=as_of)
            out["propensity"] = ws.engine.register(p[["account_id"]].assign(
                score=p["propensity"], reason=p["propensity_reason_1"]))
    if spec.lookalike.weight > 0:
        with progress.step("lookalike similarity to the best customers"):
            data = learning.prepare(ws, need_deals=False, as_of=as_of)
            scores, _, _ = lookalike_scores(ws, data, as_of=as_of, best_share=spec.lookalike.best_share)
            out["lookalike"] = ws.engine.register(scores[["account_id"]].assign(
                score=scores["lookalike_score"], reason=scores["reason_1"]))
    return out


def _summary(engine: Any, spec_file: SpecFile, scores: Any, day: date) -> dict[str, Any]:
    spec = spec_file.spec
    total = engine.scalar(scores.count())
    tiers = engine.to_arrow(scores.group_by("tier").aggregate(
        accounts=scores.count(), mean_score=scores.score.mean())).to_pylist()
    segs = engine.to_arrow(scores.group_by(["segment", "priority", "motion"]).aggregate(
        accounts=scores.count())).to_pylist()
    by_tier = {r["tier"]: r for r in tiers}
    tier_out = {}
    for tier in spec.tiers:
        r = by_tier.get(tier.name, {"accounts": 0, "mean_score": None})
        tier_out[tier.name] = {
            "accounts": int(r["accounts"]),
            "share": round(r["accounts"] / total, 4) if total else 0.0,
            "min_score": tier.min_score,
            "action": tier.action,
            "coverage": tier.coverage,
        }
    order = {s.name: i for i, s in enumerate([*spec.segments.rules, spec.segments.default])}
    seg_out = [
        {"segment": r["segment"], "priority": r["priority"], "motion": r["motion"], "accounts": int(r["accounts"]),
         "share": round(r["accounts"] / total, 4) if total else 0.0}
        for r in sorted(segs, key=lambda r: order.get(r["segment"], 99))
    ]
    return {
        "spec": spec.name,
        "spec_hash": spec.fingerprint(),
        "as_of": day.isoformat(),
        "accounts": int(total),
        "tiers": tier_out,
        "segments": seg_out,
    }
