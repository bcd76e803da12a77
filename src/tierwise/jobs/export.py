"""``tierwise export SPEC --to salesforce|hubspot``: scores, tiers and segments back into the CRM.

Accounts are scored as ``tierwise score`` scores them; the spec's ``export:``
section maps CRM fields to tierwise columns (``score``, ``tier``, ``priority``,
``owner_id``, ``industry_priority``, ``crm:<Field>`` from the segment's ``crm:``
map ...). By default only records whose exported values changed since the last
export to the same CRM are written: the state of each export (a hash of every
record's values) is kept in ``.tierwise/exports/<crm>.parquet`` next to the
spec and replaced only after the files are written. ``all_records=True``
writes every record.

Examples
--------
>>> from tierwise.jobs.export import export
>>> result = export("workspace/spec.yaml", "out/crm", to="salesforce")   # doctest: +SKIP
>>> result.summary["written"], result.summary["unchanged"]                # doctest: +SKIP
(412, 4588)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.engine import connect
from tierwise.engine.base import atomic_path
from tierwise.errors import TierwiseError
from tierwise.io.crm_export import hubspot_upsert, json_value, salesforce_upsert
from tierwise.jobs.workspace import load_workspace, resolve_as_of, write_json
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile, load_spec
from tierwise.spec.model import Spec

TARGETS = ("salesforce", "hubspot")


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, Any]
    summary: dict[str, Any]


def priority_industries(spec: Spec) -> list[str]:
    """The spec's priority industries, else those the industry fit criterion gives its top points."""
    if spec.export.priority_industries is not None:
        return list(spec.export.priority_industries)
    for crit in spec.fit.criteria:
        if crit.field == "industry" and crit.values:
            top = max(crit.values.values())
            return sorted(k.strip().lower() for k, v in crit.values.items() if v == top and v > 0)
    return []


def export_columns(spec: Spec, to: str) -> dict[str, str]:
    """CRM field -> tierwise column for a target."""
    return dict(spec.export.salesforce.fields if to == "salesforce" else spec.export.hubspot.properties)


def export_table(spec_file: SpecFile, scores: ir.Table, accounts: ir.Table, columns: list[str]) -> ir.Table:
    """``account_id`` plus every column an export reads, computed by the engine."""
    spec = spec_file.spec
    t = scores.left_join(accounts.select("account_id", _industry=accounts.industry), "account_id")
    segments = [*spec.segments.rules, spec.segments.default]
    values: dict[str, ir.Value] = {}
    for column in dict.fromkeys(columns):
        if column == "industry_priority":
            values[column] = t._industry.lower().isin(priority_industries(spec)).fill_null(False)
        elif column.startswith("crm:"):
            key = column[4:]
            cases = [(t.segment == s.name, s.crm[key]) for s in segments if key in s.crm]
            values[column] = ibis.cases(*cases, else_=ibis.null().cast("string")) if cases else (
                ibis.null().cast("string"))
        elif column != "account_id":
            values[column] = t[column]
    return t.select("account_id", **values).order_by("account_id")


def _record_hash(record: dict[str, Any], columns: list[str]) -> str:
    text = "\x1f".join(str(json_value(record[c])) for c in columns)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _state_path(spec_file: SpecFile, to: str) -> Path:
    return spec_file.resolve(Path(".tierwise") / "exports" / f"{to}.parquet")


def _read_state(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    table = pq.read_table(path)
    return dict(zip(table.column("account_id").to_pylist(), table.column("hash").to_pylist(), strict=True))


def export(spec: str | Path | SpecFile, out_dir: str | Path, *, to: str, all_records: bool = False,
           as_of: date | None = None, engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> ExportResult:
    """Score every account and write the CRM's upsert files for the records that changed (or all)."""
    from tierwise.jobs.score import SCORING_COLUMNS, account_scores_expr, scoring_tables

    if to not in TARGETS:
        raise TierwiseError(f"--to must be one of {', '.join(TARGETS)}, got {to!r}")
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    spec = spec_file.spec
    out = Path(out_dir) / to
    fields = export_columns(spec, to)
    columns = list(fields.values())
    with connect(engine_url or spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=scoring_tables(spec), columns=SCORING_COLUMNS,
                            progress=progress)
        scores = account_scores_expr(ws, day, progress)
        with progress.step("scoring accounts"):
            records = engine.to_arrow(export_table(spec_file, scores, ws.table("accounts"), columns)).to_pylist()
    state_path = _state_path(spec_file, to)
    previous = {} if all_records else _read_state(state_path)
    hashes = [_record_hash(r, columns) for r in records]
    changed = [r for r, h in zip(records, hashes, strict=True) if previous.get(r["account_id"]) != h]
    with progress.step(f"writing {len(changed):,} {to} records"):
        if to == "salesforce":
            sf = spec.export.salesforce
            files = salesforce_upsert(out, changed, object_name=sf.object, external_id=sf.external_id, fields=fields)
        else:
            hs = spec.export.hubspot
            files = hubspot_upsert(out, changed, object_type=hs.object, id_property=hs.id_property,
                                   properties=fields, batch_size=hs.batch_size)
        # the state moves on only once the files exist: a failed export is retried in full next time
        state = pa.table({"account_id": pa.array([r["account_id"] for r in records], pa.string()),
                          "hash": pa.array(hashes, pa.string())})
        state_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(state_path) as tmp:
            pq.write_table(state, tmp)
    summary = {
        "to": to, "as_of": day.isoformat(), "spec_hash": spec.fingerprint(), "records": len(records),
        "written": len(changed), "unchanged": len(records) - len(changed),
        "mode": "all" if all_records else ("changed" if previous else "first export: all"),
        "fields": fields, "priority_industries": priority_industries(spec), "state": str(state_path),
    }
    files["summary"] = str(write_json(out / "summary.json", summary))
    return ExportResult(out, files, summary)
